//! Site configuration: the defaults the admin sets with `notch admin config set KEY VALUE`.

use serde::{Deserialize, Serialize};

use super::error::{SiteError, SiteResult};

/// Upper bound of a lift's cycle length; the finder's work grows with it, so the admin cannot set more.
pub const MAX_LIFT_LEN: u32 = 12;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SiteConfig {
    /// How long a connection or tally ticket stays valid unless the issuer says otherwise.
    pub ticket_lifetime_s: i64,
    /// Credit a new tally grants by default on each side.
    pub default_credit_limit_milli: i64,
    /// Longest cycle a lift may use (2..=MAX_LIFT_LEN).
    pub lift_max_len: u32,
    /// Period of the lift run inside `serve`; 0 disables it.
    pub lift_period_s: u64,
    /// Most lifts one run commits, so a run always ends.
    pub lift_max_per_run: u64,
}

impl Default for SiteConfig {
    fn default() -> Self {
        SiteConfig {
            ticket_lifetime_s: 45 * 60,
            default_credit_limit_milli: 0,
            lift_max_len: 8,
            lift_period_s: 0,
            lift_max_per_run: 1_000_000,
        }
    }
}

impl SiteConfig {
    pub const KEYS: [&'static str; 5] =
        ["ticket_lifetime_s", "default_credit_limit_milli", "lift_max_len", "lift_period_s", "lift_max_per_run"];

    pub fn get(&self, key: &str) -> SiteResult<i64> {
        Ok(match key {
            "ticket_lifetime_s" => self.ticket_lifetime_s,
            "default_credit_limit_milli" => self.default_credit_limit_milli,
            "lift_max_len" => i64::from(self.lift_max_len),
            "lift_period_s" => self.lift_period_s as i64,
            "lift_max_per_run" => self.lift_max_per_run as i64,
            _ => return Err(SiteError::UnknownConfigKey(key.to_string())),
        })
    }

    /// The configuration with `key` set to `value`, or a clear refusal if the value is out of range.
    pub fn with(&self, key: &str, value: i64) -> SiteResult<SiteConfig> {
        let mut next = self.clone();
        let out_of_range = |what: &str| SiteError::Invalid(format!("{key} must be {what}, got {value}"));
        match key {
            "ticket_lifetime_s" => {
                if !(60..=30 * 24 * 3600).contains(&value) {
                    return Err(out_of_range("between 60 and 2592000"));
                }
                next.ticket_lifetime_s = value;
            }
            "default_credit_limit_milli" => {
                if value < 0 {
                    return Err(out_of_range(">= 0"));
                }
                next.default_credit_limit_milli = value;
            }
            "lift_max_len" => {
                if !(2..=i64::from(MAX_LIFT_LEN)).contains(&value) {
                    return Err(out_of_range(&format!("between 2 and {MAX_LIFT_LEN}")));
                }
                next.lift_max_len = value as u32;
            }
            "lift_period_s" => {
                if value < 0 {
                    return Err(out_of_range(">= 0"));
                }
                next.lift_period_s = value as u64;
            }
            "lift_max_per_run" => {
                if value < 1 {
                    return Err(out_of_range(">= 1"));
                }
                next.lift_max_per_run = value as u64;
            }
            _ => return Err(SiteError::UnknownConfigKey(key.to_string())),
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_get_every_key() {
        let mut config = SiteConfig::default();
        for (key, value) in SiteConfig::KEYS.iter().zip([120, 7, 5, 9, 11]) {
            config = config.with(key, value).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(config.get(key).unwrap(), value);
        }
    }

    #[test]
    fn out_of_range_and_unknown_are_refused() {
        let config = SiteConfig::default();
        assert!(matches!(config.with("lift_max_len", 1), Err(SiteError::Invalid(_))));
        assert!(matches!(config.with("lift_max_len", 13), Err(SiteError::Invalid(_))));
        assert!(matches!(config.with("nope", 1), Err(SiteError::UnknownConfigKey(_))));
        assert!(config.get("nope").is_err());
    }
}
