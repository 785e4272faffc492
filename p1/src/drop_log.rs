//! Logging recurring trouble (dropped telegrams, a missing port, an unreachable ledger) at a limited rate: the first drop at once, later ones summed up at
//! most once per interval, so a broken cable does not write a log line a second forever.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct DropLog {
    interval: Duration,
    last_report: Option<Instant>,
    /// Drops since the last report, by kind.
    pending: BTreeMap<&'static str, u64>,
}

impl DropLog {
    pub fn new(interval: Duration) -> DropLog {
        DropLog { interval, last_report: None, pending: BTreeMap::new() }
    }

    /// Records one drop; returns the line to log if one is due.
    pub fn record(&mut self, now: Instant, kind: &'static str, detail: &str) -> Option<String> {
        *self.pending.entry(kind).or_default() += 1;
        let due = self.last_report.is_none_or(|last| now.duration_since(last) >= self.interval);
        if !due {
            return None;
        }
        self.last_report = Some(now);
        let summary: Vec<String> =
            std::mem::take(&mut self.pending).into_iter().map(|(kind, n)| format!("{n} {kind}")).collect();
        Some(format!("{detail} (since the last report: {})", summary.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storm_of_drops_logs_once_per_interval() {
        let mut log = DropLog::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let lines: Vec<_> =
            (0..600u64).filter_map(|s| log.record(t0 + Duration::from_secs(s / 5), "bad_crc", "x")).collect();
        // 600 drops over 120 s: at 0 s, 60 s and 120 s... the last second is 119 s.
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[1].contains("300 bad_crc"), "{}", lines[1]);
    }
}
