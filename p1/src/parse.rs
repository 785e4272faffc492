//! Turning one framed telegram into a [`Reading`].
//!
//! A data line is an OBIS code followed by `(...)` groups. DSMR 2.2/3 M-Bus readings put the value
//! on the next line, which then starts with `(`: such a line continues the previous one. Lines
//! with a code we do not know are kept raw; known lines whose values do not read are kept with
//! the reason. Neither ever fails the telegram.

use std::collections::BTreeMap;

use crate::reading::{Fluvius, MalformedLine, MbusChannel, MonthPeak, Peak, PowerFailure, RawLine, Reading};
use crate::values::{integer, quantity, quantity_in, timestamp, Unit};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("telegram is not ASCII text")]
    NotAscii,
    #[error("telegram does not start with a /identification line")]
    NoHeader,
}

/// One data line: the OBIS code and its groups (continuation lines appended).
struct Line<'a> {
    obis: &'a str,
    groups: Vec<&'a str>,
    /// Set when the text between groups was not `(...)`.
    shape_error: Option<String>,
}

pub fn parse_telegram(bytes: &[u8]) -> Result<Reading, ParseError> {
    if !bytes.is_ascii() {
        return Err(ParseError::NotAscii);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| ParseError::NotAscii)?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let header =
        lines.by_ref().find(|l| !l.is_empty()).and_then(|l| l.strip_prefix('/')).ok_or(ParseError::NoHeader)?;

    let mut data: Vec<Line> = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if line.starts_with('!') {
            break;
        }
        let (obis, rest) = line.split_at(line.find('(').unwrap_or(line.len()));
        let (groups, shape_error) = split_groups(rest);
        match data.last_mut() {
            Some(previous) if obis.is_empty() => {
                previous.groups.extend(groups);
                previous.shape_error = previous.shape_error.take().or(shape_error);
            }
            _ => data.push(Line { obis, groups, shape_error }),
        }
    }

    let mut builder =
        Builder { reading: Reading { header: header.to_string(), ..Reading::default() }, mbus: BTreeMap::new() };
    for line in &data {
        builder.line(line);
    }
    Ok(builder.finish())
}

fn split_groups(mut rest: &str) -> (Vec<&str>, Option<String>) {
    let mut groups = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return (groups, None);
        }
        let Some(inner) = rest.strip_prefix('(') else {
            return (groups, Some(format!("unexpected text {rest:?}")));
        };
        let Some(close) = inner.find(')') else {
            return (groups, Some("unclosed (".to_string()));
        };
        groups.push(&inner[..close]);
        rest = &inner[close + 1..];
    }
}

struct Builder {
    reading: Reading,
    mbus: BTreeMap<u8, MbusChannel>,
}

impl Builder {
    fn line(&mut self, line: &Line) {
        let result = match &line.shape_error {
            Some(error) => Err(error.clone()),
            None => self.apply(line.obis, &line.groups),
        };
        let values = || line.groups.iter().map(|g| g.to_string()).collect();
        match result {
            Ok(true) => {}
            Ok(false) => self.reading.unknown.push(RawLine { obis: line.obis.to_string(), values: values() }),
            Err(error) => {
                self.reading.malformed.push(MalformedLine { obis: line.obis.to_string(), values: values(), error })
            }
        }
    }

    /// Ok(false): a code we do not know.
    fn apply(&mut self, obis: &str, g: &[&str]) -> Result<bool, String> {
        if let Some(channel) = mbus_channel(obis) {
            return self.apply_mbus(channel, &obis[4..], g);
        }
        let r = &mut self.reading;
        match obis {
            "1-3:0.2.8" => r.dsmr_version = Some(one(g)?.to_string()),
            "0-0:1.0.0" => r.time = Some(timestamp(one(g)?)?),
            "0-0:96.1.1" => r.meter_id = Some(one(g)?.to_string()),
            "1-0:1.8.0" => r.energy_import_total_wh = Some(quantity(one(g)?, Unit::EnergyWh)?),
            "1-0:1.8.1" => r.energy_import_t1_wh = Some(quantity(one(g)?, Unit::EnergyWh)?),
            "1-0:1.8.2" => r.energy_import_t2_wh = Some(quantity(one(g)?, Unit::EnergyWh)?),
            "1-0:2.8.0" => r.energy_export_total_wh = Some(quantity(one(g)?, Unit::EnergyWh)?),
            "1-0:2.8.1" => r.energy_export_t1_wh = Some(quantity(one(g)?, Unit::EnergyWh)?),
            "1-0:2.8.2" => r.energy_export_t2_wh = Some(quantity(one(g)?, Unit::EnergyWh)?),
            "0-0:96.14.0" => r.tariff = Some(integer(one(g)?)?),
            "1-0:1.7.0" => r.power_import_w = Some(quantity(one(g)?, Unit::PowerW)?),
            "1-0:2.7.0" => r.power_export_w = Some(quantity(one(g)?, Unit::PowerW)?),
            "0-0:17.0.0" => r.power_threshold_w = Some(quantity(one(g)?, Unit::PowerW)?),
            "0-0:96.3.10" => r.switch_position = Some(integer(one(g)?)?),
            "0-0:96.7.21" => r.power_failures = Some(integer(one(g)?)?),
            "0-0:96.7.9" => r.long_power_failures = Some(integer(one(g)?)?),
            "1-0:99.97.0" => r.power_failure_log = power_failure_log(g)?,
            "0-0:96.13.1" => r.text_message_code = non_empty(one(g)?),
            "0-0:96.13.0" => r.text_message = non_empty(one(g)?),
            "0-0:96.1.4" => fluvius(r).version_info = Some(one(g)?.to_string()),
            "1-0:1.4.0" => fluvius(r).current_average_demand_w = Some(quantity(one(g)?, Unit::PowerW)?),
            "1-0:1.6.0" => {
                let [time, power] = two(g)?;
                fluvius(r).max_demand_month =
                    Some(Peak { time: timestamp(time)?, power_w: quantity(power, Unit::PowerW)? });
            }
            "0-0:98.1.0" => fluvius(r).max_demand_13_months = month_peaks(g)?,
            "1-0:31.4.0" => fluvius(r).fuse_threshold_ma = Some(quantity(one(g)?, Unit::CurrentMa)?),
            _ => return apply_phase(r, obis, g),
        }
        Ok(true)
    }

    fn apply_mbus(&mut self, channel: u8, code: &str, g: &[&str]) -> Result<bool, String> {
        let mut update = self.mbus.get(&channel).cloned().unwrap_or(MbusChannel { channel, ..MbusChannel::default() });
        match code {
            "24.1.0" => update.device_type = Some(integer(one(g)?)?),
            "96.1.0" | "96.1.1" => update.equipment_id = Some(one(g)?.to_string()),
            "24.4.0" => update.valve_position = Some(integer(one(g)?)?),
            // DSMR 4.x/5.x, and 24.2.3 on Belgian meters: (time)(value*unit).
            "24.2.1" | "24.2.3" => {
                let [time, value] = two(g)?;
                update.reading_time = Some(timestamp(time)?);
                set_mbus_value(&mut update, value)?;
            }
            // DSMR 2.2/3: (time)(period)(x)(y)(obis)(unit) and on the next line (value).
            "24.3.0" => {
                let [time, _, _, _, _, unit, value] =
                    <[&str; 7]>::try_from(g).map_err(|_| format!("expected 7 groups, got {}", g.len()))?;
                update.reading_time = Some(timestamp(time)?);
                set_mbus_value(&mut update, &format!("{value}*{unit}"))?;
            }
            _ => return Ok(false),
        }
        self.mbus.insert(channel, update);
        Ok(true)
    }

    fn finish(mut self) -> Reading {
        self.reading.mbus = self.mbus.into_values().collect();
        let gas = self.reading.mbus.iter().find(|c| c.volume_dm3.is_some() && matches!(c.device_type, Some(3) | None));
        if let Some(gas) = gas {
            self.reading.gas_dm3 = gas.volume_dm3;
            self.reading.gas_time = gas.reading_time;
        }
        self.reading
    }
}

/// `0-n:` with n in 1..=4 addresses M-Bus channel n.
fn mbus_channel(obis: &str) -> Option<u8> {
    let bytes = obis.as_bytes();
    if bytes.len() > 4 && bytes[0] == b'0' && bytes[1] == b'-' && bytes[3] == b':' {
        match bytes[2] {
            c @ b'1'..=b'4' => Some(c - b'0'),
            _ => None,
        }
    } else {
        None
    }
}

fn set_mbus_value(channel: &mut MbusChannel, value: &str) -> Result<(), String> {
    let (number, unit) = value.split_once('*').ok_or_else(|| format!("M-Bus value {value:?} has no unit"))?;
    match unit {
        "m3" | "dm3" => channel.volume_dm3 = Some(quantity_in(number, unit, Unit::VolumeDm3)?),
        "kWh" | "Wh" => channel.energy_wh = Some(quantity_in(number, unit, Unit::EnergyWh)?),
        "GJ" | "MJ" => channel.energy_mj = Some(quantity_in(number, unit, Unit::EnergyMj)?),
        other => return Err(format!("M-Bus unit {other:?} is not supported")),
    }
    Ok(())
}

/// Per-phase codes: 1-0:X.7.0 and the sag/swell counters, X = 20*(phase-1) + base.
fn apply_phase(r: &mut Reading, obis: &str, g: &[&str]) -> Result<bool, String> {
    let Some(code) = obis.strip_prefix("1-0:") else {
        return Ok(false);
    };
    let Some((quantity_code, rest)) = code.split_once('.') else {
        return Ok(false);
    };
    let Ok(n) = quantity_code.parse::<u8>() else {
        return Ok(false);
    };
    let (phase, base) = match n {
        21..=39 => (1, n),
        41..=59 => (2, n - 20),
        61..=79 => (3, n - 40),
        _ => return Ok(false),
    };
    let p = r.phases.get_mut(phase);
    match (base, rest) {
        (32, "7.0") => p.voltage_mv = Some(quantity(one(g)?, Unit::VoltageMv)?),
        (31, "7.0") => p.current_ma = Some(quantity(one(g)?, Unit::CurrentMa)?),
        (21, "7.0") => p.power_import_w = Some(quantity(one(g)?, Unit::PowerW)?),
        (22, "7.0") => p.power_export_w = Some(quantity(one(g)?, Unit::PowerW)?),
        (32, "32.0") => p.voltage_sags = Some(integer(one(g)?)?),
        (32, "36.0") => p.voltage_swells = Some(integer(one(g)?)?),
        _ => return Ok(false),
    }
    Ok(true)
}

/// An empty text group means "no message".
fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_string())
}

fn fluvius(r: &mut Reading) -> &mut Fluvius {
    r.fluvius.get_or_insert_with(Fluvius::default)
}

fn one<'a>(g: &[&'a str]) -> Result<&'a str, String> {
    match g {
        [value] => Ok(value),
        _ => Err(format!("expected 1 group, got {}", g.len())),
    }
}

fn two<'a>(g: &[&'a str]) -> Result<[&'a str; 2], String> {
    <[&str; 2]>::try_from(g).map_err(|_| format!("expected 2 groups, got {}", g.len()))
}

/// `(count)(0-0:96.7.19)` then per failure `(end time)(duration*s)`.
fn power_failure_log(g: &[&str]) -> Result<Vec<PowerFailure>, String> {
    let count: usize = integer(g.first().ok_or("empty power failure log")?)?;
    let entries = g.get(2..).unwrap_or_default();
    if entries.len() != count * 2 {
        return Err(format!("log says {count} entries but has {} groups", entries.len()));
    }
    entries
        .chunks_exact(2)
        .map(|pair| Ok(PowerFailure { end: timestamp(pair[0])?, duration_s: quantity(pair[1], Unit::Seconds)? }))
        .collect()
}

/// `(count)(1-0:1.6.0)(1-0:1.6.0)` then per month `(month)(time of peak)(power*kW)`.
fn month_peaks(g: &[&str]) -> Result<Vec<MonthPeak>, String> {
    let count: usize = integer(g.first().ok_or("empty demand history")?)?;
    let entries = g.get(3..).unwrap_or_default();
    if entries.len() != count * 3 {
        return Err(format!("history says {count} months but has {} groups", entries.len()));
    }
    entries
        .chunks_exact(3)
        .map(|t| {
            Ok(MonthPeak { month: timestamp(t[0])?, time: timestamp(t[1])?, power_w: quantity(t[2], Unit::PowerW)? })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dsmr_2_2_gas_reading_continues_on_the_next_line() {
        let t = "/KMP5 ZABF001587315111\r\n\r\n0-1:24.1.0(3)\r\n0-1:96.1.0(3238313031453631373038393930)\r\n\
                 0-1:24.3.0(120517020000)(08)(60)(1)(0-1:24.2.1)(m3)\r\n(00124.477)\r\n!\r\n";
        let r = parse_telegram(t.as_bytes()).unwrap();
        assert_eq!(r.gas_dm3, Some(124_477));
        assert_eq!(r.mbus[0].device_type, Some(3));
        assert_eq!(r.gas_time.unwrap().to_rfc3339(), "2012-05-17T00:00:00+00:00");
        assert!(r.unknown.is_empty() && r.malformed.is_empty(), "{r:?}");
    }

    #[test]
    fn unknown_and_broken_lines_are_kept() {
        let t = "/X\r\n\r\n1-0:9.9.9(42)(x)\r\n1-0:1.8.1(abc*kWh)\r\n1-0:1.8.2(000001.000*kWh)\r\n!\r\n";
        let r = parse_telegram(t.as_bytes()).unwrap();
        assert_eq!(r.unknown, vec![RawLine { obis: "1-0:9.9.9".into(), values: vec!["42".into(), "x".into()] }]);
        assert_eq!(r.malformed.len(), 1);
        assert_eq!(r.malformed[0].obis, "1-0:1.8.1");
        assert_eq!(r.energy_import_t2_wh, Some(1_000));
    }

    #[test]
    fn phases_land_in_their_phase() {
        let t = "/X\r\n\r\n1-0:52.7.0(231.5*V)\r\n1-0:71.7.0(003*A)\r\n1-0:62.7.0(00.123*kW)\r\n1-0:32.32.0(00002)\r\n!\r\n";
        let r = parse_telegram(t.as_bytes()).unwrap();
        assert_eq!(r.phases.l2.voltage_mv, Some(231_500));
        assert_eq!(r.phases.l3.current_ma, Some(3_000));
        assert_eq!(r.phases.l3.power_export_w, Some(123));
        assert_eq!(r.phases.l1.voltage_sags, Some(2));
    }

    #[test]
    fn text_without_a_header_is_refused() {
        assert_eq!(parse_telegram(b"1-0:1.8.1(1*kWh)\r\n!\r\n"), Err(ParseError::NoHeader));
        assert_eq!(parse_telegram("/X\r\n\u{e9}".as_bytes()), Err(ParseError::NotAscii));
    }
}
