//! What a scope's channel carries (`ReadingValues`, the domain's, which the provider reads back): the scope's
//! fields of each reading, or one aggregate per 1-minute or 15-minute
//! period, so that a provider granted 15-minute energy never sees a finer or wider value (docs/consent.md,
//! "Scope channels").
//!
//! A message is one JSON object: `from` and `until` (the device's clock at the first and the last reading of the
//! period; equal for `telegram`), `samples` (readings in the period), and each field of the scope that the meter
//! sent: `power_import_w` and `power_export_w` the mean over the period (rounded down), `energy_import_wh`,
//! `energy_export_wh` and `gas_dm3` the register at the period's last reading, `phases` the last reading's phases.

use chrono::{DateTime, Utc};
use domain::home::consent::{Field, Granularity, Scope};
use domain::home::policy_readings::ReadingValues;

use crate::reading::Reading;

/// The period of a granularity, in seconds; 0 for every telegram.
pub fn period_seconds(granularity: Granularity) -> i64 {
    match granularity {
        Granularity::Telegram => 0,
        Granularity::OneMinute => 60,
        Granularity::FifteenMinutes => 900,
    }
}

/// Builds a scope's messages from readings: each reading at once, or one aggregate per period when a reading of
/// the next period arrives. A period's partial aggregate is lost when the device restarts (its `samples` says so).
#[derive(Debug, Clone)]
pub struct ScopeAggregator {
    scope: Scope,
    open: Option<Period>,
}

#[derive(Debug, Clone)]
struct Period {
    number: i64,
    values: ReadingValues,
    power_import_sum_w: i128,
    power_export_sum_w: i128,
    power_import_samples: i64,
    power_export_samples: i64,
}

impl ScopeAggregator {
    pub fn new(scope: Scope) -> ScopeAggregator {
        ScopeAggregator { scope, open: None }
    }

    /// The message that `reading`, received at `at`, completes, if any.
    pub fn add(&mut self, reading: &Reading, at: DateTime<Utc>) -> Option<ReadingValues> {
        let period_s = period_seconds(self.scope.granularity);
        if period_s == 0 {
            let mut period = Period::start(0, at);
            period.add(&self.scope, reading, at);
            return Some(period.finish());
        }
        let number = at.timestamp().div_euclid(period_s);
        let closed = match &self.open {
            Some(open) if open.number != number => self.open.take().map(Period::finish),
            _ => None,
        };
        self.open.get_or_insert_with(|| Period::start(number, at)).add(&self.scope, reading, at);
        closed
    }
}

impl Period {
    fn start(number: i64, at: DateTime<Utc>) -> Period {
        let values = ReadingValues {
            from: at,
            until: at,
            samples: 0,
            power_import_w: None,
            power_export_w: None,
            energy_import_wh: None,
            energy_export_wh: None,
            gas_dm3: None,
            phases: None,
        };
        Period {
            number,
            values,
            power_import_sum_w: 0,
            power_export_sum_w: 0,
            power_import_samples: 0,
            power_export_samples: 0,
        }
    }

    fn add(&mut self, scope: &Scope, reading: &Reading, at: DateTime<Utc>) {
        self.values.until = at;
        self.values.samples = self.values.samples.saturating_add(1);
        for field in &scope.fields {
            match field {
                Field::PowerImportW => {
                    sum(reading.power_import_w, &mut self.power_import_sum_w, &mut self.power_import_samples)
                }
                Field::PowerExportW => {
                    sum(reading.power_export_w, &mut self.power_export_sum_w, &mut self.power_export_samples)
                }
                Field::EnergyImportWh => keep_last(&mut self.values.energy_import_wh, energy_import_wh(reading)),
                Field::EnergyExportWh => keep_last(&mut self.values.energy_export_wh, energy_export_wh(reading)),
                Field::GasDm3 => keep_last(&mut self.values.gas_dm3, reading.gas_dm3),
                Field::Phases if !reading.phases.is_empty() => {
                    self.values.phases = serde_json::to_value(&reading.phases).ok();
                }
                Field::Phases => {}
            }
        }
    }

    fn finish(self) -> ReadingValues {
        let mean = |sum: i128, samples: i64| (samples > 0).then(|| (sum.div_euclid(i128::from(samples))) as i64);
        ReadingValues {
            power_import_w: mean(self.power_import_sum_w, self.power_import_samples),
            power_export_w: mean(self.power_export_sum_w, self.power_export_samples),
            ..self.values
        }
    }
}

fn sum(value: Option<i64>, total: &mut i128, samples: &mut i64) {
    if let Some(value) = value {
        *total += i128::from(value);
        *samples += 1;
    }
}

fn keep_last(slot: &mut Option<i64>, value: Option<i64>) {
    if value.is_some() {
        *slot = value;
    }
}

/// The import register: the meter's total, or the sum of its two tariffs.
fn energy_import_wh(reading: &Reading) -> Option<i64> {
    reading.energy_import_total_wh.or_else(|| Some(reading.energy_import_t1_wh? + reading.energy_import_t2_wh?))
}

fn energy_export_wh(reading: &Reading) -> Option<i64> {
    reading.energy_export_total_wh.or_else(|| Some(reading.energy_export_t1_wh? + reading.energy_export_t2_wh?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(power_w: i64, import_wh: i64) -> Reading {
        Reading {
            power_import_w: Some(power_w),
            energy_import_t1_wh: Some(import_wh),
            energy_import_t2_wh: Some(1_000),
            energy_export_t1_wh: Some(7),
            gas_dm3: Some(42),
            ..Reading::default()
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_796_126_400 + seconds, 0).unwrap()
    }

    #[test]
    fn a_telegram_scope_carries_only_its_fields_of_each_reading() {
        let scope = Scope { fields: vec![Field::PowerImportW], granularity: Granularity::Telegram };
        let mut aggregator = ScopeAggregator::new(scope);
        let values = aggregator.add(&reading(1_234, 5_000), at(3)).unwrap();
        assert_eq!((values.from, values.until, values.samples), (at(3), at(3), 1));
        assert_eq!(values.power_import_w, Some(1_234));
        let text = serde_json::to_string(&values).unwrap();
        assert!(!text.contains("energy") && !text.contains("gas"), "{text}");
    }

    #[test]
    fn a_minute_scope_sends_one_mean_and_the_last_register_per_minute() {
        let scope =
            Scope { fields: vec![Field::PowerImportW, Field::EnergyImportWh], granularity: Granularity::OneMinute };
        let mut aggregator = ScopeAggregator::new(scope);
        assert_eq!(aggregator.add(&reading(100, 5_000), at(0)), None);
        assert_eq!(aggregator.add(&reading(200, 5_001), at(20)), None);
        assert_eq!(aggregator.add(&reading(301, 5_002), at(59)), None);
        let minute = aggregator.add(&reading(900, 5_010), at(60)).expect("the next minute closes the first");
        assert_eq!((minute.from, minute.until, minute.samples), (at(0), at(59), 3));
        assert_eq!(minute.power_import_w, Some(200), "(100 + 200 + 301) / 3 rounded down");
        assert_eq!(minute.energy_import_wh, Some(6_002), "t1 + t2 at the last reading");
        assert_eq!((minute.energy_export_wh, minute.gas_dm3), (None, None), "outside the scope");
        // A gap of several minutes closes the open one only.
        let next = aggregator.add(&reading(0, 5_011), at(400)).unwrap();
        assert_eq!((next.from, next.samples, next.power_import_w), (at(60), 1, Some(900)));
    }

    #[test]
    fn the_provider_reads_every_field_the_device_writes() {
        let fields = vec![
            Field::PowerImportW,
            Field::PowerExportW,
            Field::EnergyImportWh,
            Field::EnergyExportWh,
            Field::GasDm3,
            Field::Phases,
        ];
        let mut reading = reading(5, 6);
        reading.power_export_w = Some(1);
        reading.energy_export_t2_wh = Some(2);
        reading.phases.l2.voltage_mv = Some(230_100);
        let values =
            ScopeAggregator::new(Scope { fields, granularity: Granularity::Telegram }).add(&reading, at(0)).unwrap();
        let read: ReadingValues = serde_json::from_slice(&serde_json::to_vec(&values).unwrap()).unwrap();
        assert_eq!(read, values, "what the device seals is what the provider reads");
        assert_eq!(
            (read.energy_export_wh, read.phases.unwrap()["l2"]["voltage_mv"].as_i64()),
            (Some(9), Some(230_100))
        );
    }

    #[test]
    fn a_quarter_hour_scope_is_aligned_to_the_clock() {
        let scope = Scope { fields: vec![Field::GasDm3], granularity: Granularity::FifteenMinutes };
        let mut aggregator = ScopeAggregator::new(scope);
        assert_eq!(aggregator.add(&reading(1, 1), at(890)), None);
        let first = aggregator.add(&reading(1, 1), at(900)).unwrap();
        assert_eq!((first.samples, first.gas_dm3, first.power_import_w), (1, Some(42), None));
    }
}
