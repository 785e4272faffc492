//! Every value that both notch-p1 and the Python `dsmr-parser` report for the corpus agrees.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use chrono::{DateTime, Utc};
use common::{corpus, python};
use notch_p1::reading::{MbusChannel, Reading};
use notch_p1::values::{integer, quantity_in, Unit};
use serde::Deserialize;

#[derive(Deserialize, Debug)]
struct PyRecord {
    name: String,
    obis: String,
    values: Vec<(Option<String>, Option<String>)>,
}

/// One value as notch-p1 holds it.
#[derive(Debug)]
enum Mine {
    Qty(Option<i64>, Unit),
    Time(Option<DateTime<Utc>>),
    Text(Option<String>),
    Int(Option<i64>),
}

fn qty(v: Option<i64>, unit: Unit) -> Mine {
    Mine::Qty(v, unit)
}

fn int<T: Into<i64> + Copy>(v: Option<T>) -> Mine {
    Mine::Int(v.map(Into::into))
}

fn mbus(r: &Reading, channel: u8) -> MbusChannel {
    r.mbus.iter().find(|c| c.channel == channel).cloned().unwrap_or_default()
}

/// What notch-p1 reports for a line with this OBIS code, in dsmr-parser's value order.
fn mine(r: &Reading, obis: &str) -> Option<Vec<Mine>> {
    let phase = |n: u8| match n {
        1 => &r.phases.l1,
        2 => &r.phases.l2,
        _ => &r.phases.l3,
    };
    let f = r.fluvius.clone().unwrap_or_default();
    if let Some(channel) =
        obis.strip_prefix("0-").and_then(|rest| rest[..1].parse::<u8>().ok()).filter(|c| (1..=4).contains(c))
    {
        let m = mbus(r, channel);
        return Some(match &obis[4..] {
            "24.1.0" => vec![int(m.device_type)],
            "96.1.0" | "96.1.1" => vec![Mine::Text(m.equipment_id)],
            "24.4.0" => vec![int(m.valve_position)],
            "24.2.1" | "24.2.3" | "24.3.0" => vec![Mine::Time(m.reading_time), qty(m.volume_dm3, Unit::VolumeDm3)],
            _ => return None,
        });
    }
    Some(match obis {
        "1-3:0.2.8" => vec![Mine::Text(r.dsmr_version.clone())],
        "0-0:1.0.0" => vec![Mine::Time(r.time)],
        "0-0:96.1.1" => vec![Mine::Text(r.meter_id.clone())],
        "1-0:1.8.0" => vec![qty(r.energy_import_total_wh, Unit::EnergyWh)],
        "1-0:1.8.1" => vec![qty(r.energy_import_t1_wh, Unit::EnergyWh)],
        "1-0:1.8.2" => vec![qty(r.energy_import_t2_wh, Unit::EnergyWh)],
        "1-0:2.8.1" => vec![qty(r.energy_export_t1_wh, Unit::EnergyWh)],
        "1-0:2.8.2" => vec![qty(r.energy_export_t2_wh, Unit::EnergyWh)],
        "0-0:96.14.0" => vec![int(r.tariff)],
        "1-0:1.7.0" => vec![qty(r.power_import_w, Unit::PowerW)],
        "1-0:2.7.0" => vec![qty(r.power_export_w, Unit::PowerW)],
        "0-0:17.0.0" => vec![qty(r.power_threshold_w, Unit::PowerW)],
        "0-0:96.3.10" => vec![int(r.switch_position)],
        "0-0:96.7.21" => vec![int(r.power_failures)],
        "0-0:96.7.9" => vec![int(r.long_power_failures)],
        "1-0:99.97.0" => r
            .power_failure_log
            .iter()
            .flat_map(|p| [Mine::Time(Some(p.end)), qty(Some(p.duration_s), Unit::Seconds)])
            .collect(),
        "0-0:96.13.1" => vec![Mine::Text(r.text_message_code.clone())],
        "0-0:96.13.0" => vec![Mine::Text(r.text_message.clone())],
        "0-0:96.1.4" => vec![Mine::Text(f.version_info)],
        "1-0:1.4.0" => vec![qty(f.current_average_demand_w, Unit::PowerW)],
        "1-0:1.6.0" => {
            let p = f.max_demand_month?;
            vec![Mine::Time(Some(p.time)), qty(Some(p.power_w), Unit::PowerW)]
        }
        "0-0:98.1.0" => f
            .max_demand_13_months
            .iter()
            .flat_map(|m| [Mine::Time(Some(m.month)), Mine::Time(Some(m.time)), qty(Some(m.power_w), Unit::PowerW)])
            .collect(),
        "1-0:31.4.0" => vec![qty(f.fuse_threshold_ma, Unit::CurrentMa)],
        _ => {
            let code: u8 = obis.strip_prefix("1-0:")?.split('.').next()?.parse().ok()?;
            let rest = obis.split_once('.')?.1;
            let (n, base) = match code {
                21..=39 => (1, code),
                41..=59 => (2, code - 20),
                61..=79 => (3, code - 40),
                _ => return None,
            };
            let p = phase(n);
            match (base, rest) {
                (32, "7.0") => vec![qty(p.voltage_mv, Unit::VoltageMv)],
                (31, "7.0") => vec![qty(p.current_ma, Unit::CurrentMa)],
                (21, "7.0") => vec![qty(p.power_import_w, Unit::PowerW)],
                (22, "7.0") => vec![qty(p.power_export_w, Unit::PowerW)],
                (32, "32.0") => vec![int(p.voltage_sags)],
                (32, "36.0") => vec![int(p.voltage_swells)],
                _ => return None,
            }
        }
    })
}

fn agree(mine: &Mine, value: &Option<String>, unit: &Option<String>) -> Result<(), String> {
    let ok = match (mine, value) {
        (Mine::Qty(None, _), None) | (Mine::Time(None), None) | (Mine::Text(None), None) | (Mine::Int(None), None) => {
            true
        }
        (Mine::Qty(Some(m), u), Some(v)) => {
            let theirs = match unit {
                Some(unit) => quantity_in(v, unit, *u),
                None => Err("no unit".into()),
            };
            theirs.as_ref() == Ok(m)
        }
        (Mine::Time(Some(m)), Some(v)) => DateTime::parse_from_rfc3339(v).map(|t| t == *m).unwrap_or(false),
        (Mine::Text(Some(m)), Some(v)) => m == v,
        (Mine::Int(Some(m)), Some(v)) => integer::<i64>(v).map(|t| t == *m).unwrap_or(false),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("notch-p1 {mine:?} vs dsmr-parser {value:?} {unit:?}"))
    }
}

#[test]
fn notch_p1_and_dsmr_parser_agree_on_every_value_of_the_corpus() {
    let samples: Vec<_> = (0..3u32).flat_map(|seq| corpus::all(seq * 7919)).collect();
    let request: Vec<_> =
        samples.iter().map(|s| serde_json::json!({"spec": s.python_spec, "telegram": s.telegram})).collect();
    let mut child = Command::new(python::venv_python())
        .arg(python::script("dsmr_dump.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting python");
    child.stdin.take().unwrap().write_all(serde_json::to_string(&request).unwrap().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "dsmr_dump.py failed");
    let theirs: Vec<Vec<PyRecord>> = serde_json::from_slice(&output.stdout).unwrap();

    let mut compared = 0;
    let mut problems = Vec::new();
    for (sample, records) in samples.iter().zip(&theirs) {
        let reading = notch_p1::parse_telegram(sample.telegram.as_bytes()).unwrap();
        assert!(reading.malformed.is_empty(), "{}: {:?}", sample.name, reading.malformed);
        assert!(records.len() >= 10, "{}: dsmr-parser reported only {} lines", sample.name, records.len());
        for record in records {
            let Some(values) = mine(&reading, &record.obis) else {
                problems.push(format!("{}: {} {} has no notch-p1 field", sample.name, record.name, record.obis));
                continue;
            };
            if values.len() != record.values.len() {
                problems.push(format!(
                    "{}: {} {}: {} values vs {}",
                    sample.name,
                    record.name,
                    record.obis,
                    values.len(),
                    record.values.len()
                ));
                continue;
            }
            for (m, (v, u)) in values.iter().zip(&record.values) {
                compared += 1;
                if let Err(e) = agree(m, v, u) {
                    problems.push(format!("{}: {} {}: {e}", sample.name, record.name, record.obis));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{} disagreements:\n{}", problems.len(), problems.join("\n"));
    assert!(compared > 300, "only {compared} values compared");
    eprintln!("{compared} values agree");
}
