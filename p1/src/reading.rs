//! The typed readings of one telegram. Every quantity is an integer with its unit in its name;
//! fields a telegram does not carry are absent (`None`, empty), never zero.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reading {
    /// The identification line without the leading `/`, e.g. `ISK5\2M550T-1012`.
    pub header: String,
    /// `1-3:0.2.8`, e.g. `42` or `50`; absent in DSMR 2.2/3 and on Belgian meters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dsmr_version: Option<String>,
    /// `0-0:1.0.0`, converted from Europe/Amsterdam local time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime<Utc>>,
    /// `0-0:96.1.1` as the meter sends it (hex-encoded ASCII on DSMR 4+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meter_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_import_total_wh: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_import_t1_wh: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_import_t2_wh: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_export_total_wh: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_export_t1_wh: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_export_t2_wh: Option<i64>,
    /// `0-0:96.14.0`: the tariff now in force (1 = low/night, 2 = normal/day in NL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tariff: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_import_w: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_export_w: Option<i64>,
    /// `0-0:17.0.0`: the power limit the meter enforces (DSMR 2.2/3, Belgian meters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_threshold_w: Option<i64>,
    /// `0-0:96.3.10`: breaker state (0 = off, 1 = on, 2 = ready for reconnection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_position: Option<u8>,
    /// `0-0:96.7.21`: power failures in any phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_failures: Option<u32>,
    /// `0-0:96.7.9`: long power failures in any phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_power_failures: Option<u32>,
    /// `1-0:99.97.0`: the log of long power failures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub power_failure_log: Vec<PowerFailure>,
    #[serde(default, skip_serializing_if = "Phases::is_empty")]
    pub phases: Phases,
    /// `0-0:96.13.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_message_code: Option<String>,
    /// `0-0:96.13.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_message: Option<String>,
    /// The reading of the first gas meter on the M-Bus (device type 3), copied for convenience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas_dm3: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas_time: Option<DateTime<Utc>>,
    /// M-Bus channels 1..4 in channel order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mbus: Vec<MbusChannel>,
    /// The extra fields of Belgian (Fluvius, e-MUCS) meters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fluvius: Option<Fluvius>,
    /// Lines with an OBIS code this parser does not know, kept as sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<RawLine>,
    /// Lines with a known OBIS code whose values could not be read, kept with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<MalformedLine>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phases {
    #[serde(default, skip_serializing_if = "Phase::is_empty")]
    pub l1: Phase,
    #[serde(default, skip_serializing_if = "Phase::is_empty")]
    pub l2: Phase,
    #[serde(default, skip_serializing_if = "Phase::is_empty")]
    pub l3: Phase,
}

impl Phases {
    pub fn is_empty(&self) -> bool {
        self.l1.is_empty() && self.l2.is_empty() && self.l3.is_empty()
    }

    /// Phase 1..=3.
    pub fn get_mut(&mut self, phase: u8) -> &mut Phase {
        match phase {
            1 => &mut self.l1,
            2 => &mut self.l2,
            _ => &mut self.l3,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voltage_mv: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_ma: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_import_w: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_export_w: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voltage_sags: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voltage_swells: Option<u32>,
}

impl Phase {
    pub fn is_empty(&self) -> bool {
        self == &Phase::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PowerFailure {
    /// When the failure ended.
    pub end: DateTime<Utc>,
    pub duration_s: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MbusChannel {
    /// 1..=4, the `b` of the OBIS code.
    pub channel: u8,
    /// `0-n:24.1.0`: 3 = gas, 4 = heat, 7 = water, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_type: Option<u16>,
    /// `0-n:96.1.0` (`0-n:96.1.1` on Belgian meters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equipment_id: Option<String>,
    /// `0-n:24.4.0`: valve state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valve_position: Option<u8>,
    /// When the device last reported its reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reading_time: Option<DateTime<Utc>>,
    /// Reading in dm³ (gas and water meters report m³ with three decimals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_dm3: Option<i64>,
    /// Reading in Wh (kWh devices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_wh: Option<i64>,
    /// Reading in MJ (heat meters report GJ with three decimals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_mj: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fluvius {
    /// `0-0:96.1.4`, e.g. `50217`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_info: Option<String>,
    /// `1-0:1.4.0`: average demand in the current quarter hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_average_demand_w: Option<i64>,
    /// `1-0:1.6.0`: the peak quarter-hour demand of this month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_demand_month: Option<Peak>,
    /// `0-0:98.1.0`: the monthly peaks of the last 13 months.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub max_demand_13_months: Vec<MonthPeak>,
    /// `1-0:31.4.0`: the current limit of the fuse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuse_threshold_ma: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peak {
    pub time: DateTime<Utc>,
    pub power_w: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthPeak {
    /// The start of the month the peak belongs to.
    pub month: DateTime<Utc>,
    /// When the peak occurred.
    pub time: DateTime<Utc>,
    pub power_w: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawLine {
    pub obis: String,
    /// The contents of each `(...)` group in order.
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MalformedLine {
    pub obis: String,
    pub values: Vec<String>,
    pub error: String,
}
