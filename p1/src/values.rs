//! Reading single COSEM values: decimal quantities into integers with units, and DSMR timestamps.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::Amsterdam;

/// The integer unit a quantity is stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    EnergyWh,
    PowerW,
    VoltageMv,
    CurrentMa,
    VolumeDm3,
    EnergyMj,
    Seconds,
}

impl Unit {
    /// Meter units this integer unit accepts and the power of ten that converts them.
    fn accepts(self) -> &'static [(&'static str, u32)] {
        match self {
            Unit::EnergyWh => &[("kWh", 3), ("Wh", 0)],
            Unit::PowerW => &[("kW", 3), ("W", 0)],
            Unit::VoltageMv => &[("V", 3)],
            Unit::CurrentMa => &[("A", 3)],
            Unit::VolumeDm3 => &[("m3", 3), ("dm3", 0)],
            Unit::EnergyMj => &[("GJ", 3), ("MJ", 0)],
            Unit::Seconds => &[("s", 0)],
        }
    }

    /// The unit a meter sends without naming it (DSMR 2.2 gas readings put the unit on the
    /// previous line).
    fn default_meter_unit(self) -> &'static str {
        self.accepts()[0].0
    }
}

/// `"000123.456*kWh"` as [`Unit::EnergyWh`] is `123456`. A missing unit means the usual meter
/// unit; a value with more decimals than the integer unit can hold is an error, not rounded.
pub fn quantity(group: &str, unit: Unit) -> Result<i64, String> {
    let (number, meter_unit) = match group.split_once('*') {
        Some((n, u)) => (n, u),
        None => (group, unit.default_meter_unit()),
    };
    quantity_in(number, meter_unit, unit)
}

/// A number whose meter unit is given separately.
pub fn quantity_in(number: &str, meter_unit: &str, unit: Unit) -> Result<i64, String> {
    let scale = unit
        .accepts()
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(meter_unit))
        .map(|(_, scale)| *scale)
        .ok_or_else(|| format!("unit {meter_unit:?} where {unit:?} was expected"))?;
    scaled_decimal(number, scale)
}

/// Parses a plain decimal (`-?digits[.digits]`) into an integer of 10^-scale units, exactly.
pub fn scaled_decimal(number: &str, scale: u32) -> Result<i64, String> {
    let bad = || format!("{number:?} is not a decimal number");
    let (negative, digits) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(bad());
    }
    if !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if frac_part.len() > scale as usize {
        return Err(format!("{number:?} has more than {scale} decimals"));
    }
    let mut value: i64 = 0;
    let padding = scale as usize - frac_part.len();
    for b in int_part.bytes().chain(frac_part.bytes()).chain(std::iter::repeat_n(b'0', padding)) {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(b - b'0')))
            .ok_or_else(|| format!("{number:?} is too large"))?;
    }
    Ok(if negative { -value } else { value })
}

/// Plain non-negative integers (counters, codes): `"00004"` is 4.
pub fn integer<T: std::str::FromStr>(group: &str) -> Result<T, String> {
    let number = group.split_once('*').map_or(group, |(n, _)| n);
    number.parse().map_err(|_| format!("{group:?} is not an integer"))
}

/// `YYMMDDhhmmssX`, local time in Europe/Amsterdam, X = `S` (summer) or `W` (winter). The flag
/// decides only the hour that occurs twice when the clocks go back; DSMR 2.2 gas timestamps have
/// no flag. A local time that does not exist (the hour skipped in spring) is an error.
pub fn timestamp(group: &str) -> Result<DateTime<Utc>, String> {
    let (digits, flag) = match group.len() {
        12 => (group, None),
        13 => (&group[..12], Some(&group[12..])),
        _ => return Err(format!("{group:?} is not a YYMMDDhhmmss[S|W] timestamp")),
    };
    let summer = match flag {
        None => None,
        Some("S") => Some(true),
        Some("W") => Some(false),
        Some(other) => return Err(format!("daylight saving flag {other:?} is not S or W")),
    };
    let naive = NaiveDateTime::parse_from_str(digits, "%y%m%d%H%M%S")
        .map_err(|e| format!("{group:?} is not a YYMMDDhhmmss timestamp: {e}"))?;
    match Amsterdam.from_local_datetime(&naive) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(summer_time, winter_time) => Ok(match summer {
            Some(false) => winter_time,
            _ => summer_time,
        }
        .with_timezone(&Utc)),
        LocalResult::None => Err(format!("{group:?} does not exist in Europe/Amsterdam")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_become_exact_integers() {
        assert_eq!(quantity("000123.456*kWh", Unit::EnergyWh), Ok(123_456));
        assert_eq!(quantity("01.193*kW", Unit::PowerW), Ok(1_193));
        assert_eq!(quantity("230.1*V", Unit::VoltageMv), Ok(230_100));
        assert_eq!(quantity("002*A", Unit::CurrentMa), Ok(2_000));
        assert_eq!(quantity("00124.477", Unit::VolumeDm3), Ok(124_477));
        assert_eq!(quantity("0000000240*s", Unit::Seconds), Ok(240));
        assert!(quantity("1.2345*kWh", Unit::EnergyWh).is_err());
        assert!(quantity("12*m3", Unit::EnergyWh).is_err());
        assert!(quantity("1e3*kWh", Unit::EnergyWh).is_err());
    }

    #[test]
    fn timestamps_use_the_flag_only_when_the_clock_goes_back() {
        let t = |s| timestamp(s).unwrap().to_rfc3339();
        assert_eq!(t("101209113020W"), "2010-12-09T10:30:20+00:00");
        assert_eq!(t("170108161107W"), "2017-01-08T15:11:07+00:00");
        assert_eq!(t("200512135409S"), "2020-05-12T11:54:09+00:00");
        // 2024-10-27 02:30 happens twice in Amsterdam.
        assert_eq!(t("241027023000S"), "2024-10-27T00:30:00+00:00");
        assert_eq!(t("241027023000W"), "2024-10-27T01:30:00+00:00");
        assert_eq!(t("120517020000"), "2012-05-17T00:00:00+00:00");
        assert!(timestamp("240331023000W").is_err());
        assert!(timestamp("2403310230").is_err());
    }
}
