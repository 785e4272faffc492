//! The benchmark helpers work (figures are printed by `notch bench p1`, not asserted here beyond
//! being real measurements).

mod common;

#[test]
fn both_parse_rates_are_measured_on_the_same_telegram() {
    let sample = notch_p1::bench::sample_telegram();
    let reading = notch_p1::parse_telegram(sample.as_bytes()).unwrap();
    assert!(reading.unknown.is_empty() && reading.malformed.is_empty());
    assert!(notch_p1::bench::parse_rate(0.2) > 0.0);
    let python = notch_p1::bench::python_parse_rate(
        &common::python::venv_python(),
        &common::python::script("bench_dsmr_parser.py"),
        0.5,
    )
    .unwrap();
    assert!(python > 0.0);
}
