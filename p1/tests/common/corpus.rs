//! Telegrams this project writes itself, one per meter family, with valid CRCs. `seq` varies the
//! counters so a stream of them looks like a running meter.

use notch_p1::frame::seal_with_crc;

pub struct Sample {
    pub name: &'static str,
    /// The dsmr-parser telegram specification that reads this family.
    pub python_spec: &'static str,
    pub telegram: String,
}

pub fn all(seq: u32) -> Vec<Sample> {
    vec![
        Sample { name: "dsmr22", python_spec: "V2_2", telegram: dsmr22(seq) },
        Sample { name: "dsmr42", python_spec: "V4", telegram: dsmr42(seq) },
        Sample { name: "dsmr50", python_spec: "V5", telegram: dsmr50(seq) },
        Sample { name: "dsmr50_two_mbus", python_spec: "V5", telegram: dsmr50_two_mbus(seq) },
        Sample { name: "fluvius", python_spec: "BELGIUM_FLUVIUS", telegram: fluvius(seq) },
    ]
}

fn crlf(lines: &[String]) -> String {
    let mut body = String::new();
    for line in lines {
        body.push_str(line);
        body.push_str("\r\n");
    }
    body
}

/// DSMR 2.2: no timestamp, no CRC, the gas value on the line after its header.
pub fn dsmr22(seq: u32) -> String {
    let lines = vec![
        "/ISk5\\2ME382-1003".to_string(),
        String::new(),
        "0-0:96.1.1(4B414C37303035313039)".to_string(),
        format!("1-0:1.8.1({:05}.{:03}*kWh)", 1234 + seq / 1000, seq % 1000),
        "1-0:1.8.2(00816.501*kWh)".to_string(),
        "1-0:2.8.1(00000.000*kWh)".to_string(),
        "1-0:2.8.2(00012.084*kWh)".to_string(),
        "0-0:96.14.0(0001)".to_string(),
        format!("1-0:1.7.0({:04}.{:02}*kW)", seq % 3, seq % 100),
        "1-0:2.7.0(0000.00*kW)".to_string(),
        "0-0:17.0.0(0999.00*kW)".to_string(),
        "0-0:96.3.10(1)".to_string(),
        "0-0:96.13.1(303132)".to_string(),
        "0-0:96.13.0()".to_string(),
        "0-1:24.1.0(3)".to_string(),
        "0-1:96.1.0(3238313031453631373038393930)".to_string(),
        "0-1:24.3.0(121230180000)(08)(60)(1)(0-1:24.2.1)(m3)".to_string(),
        format!("({:05}.{:03})", 4321 + seq / 1000, seq % 1000),
        "0-1:24.4.0(1)".to_string(),
    ];
    let mut t = crlf(&lines);
    t.push_str("!\r\n");
    t
}

/// DSMR 4.2 (Kaifa style), with a power failure log and an empty text message code.
pub fn dsmr42(seq: u32) -> String {
    let lines = vec![
        "/KFM5KAIFA-METER".to_string(),
        String::new(),
        "1-3:0.2.8(42)".to_string(),
        format!("0-0:1.0.0(161113{:02}{:02}{:02}W)", 20, seq / 60 % 60, seq % 60),
        "0-0:96.1.1(4530303034303031353934353132343135)".to_string(),
        format!("1-0:1.8.1({:06}.{:03}*kWh)", 1581 + seq / 1000, seq % 1000),
        "1-0:1.8.2(001435.706*kWh)".to_string(),
        "1-0:2.8.1(000000.000*kWh)".to_string(),
        "1-0:2.8.2(000000.000*kWh)".to_string(),
        "0-0:96.14.0(0002)".to_string(),
        format!("1-0:1.7.0(02.{:03}*kW)", seq % 1000),
        "1-0:2.7.0(00.000*kW)".to_string(),
        "0-0:96.7.21(00015)".to_string(),
        "0-0:96.7.9(00007)".to_string(),
        "1-0:99.97.0(2)(0-0:96.7.19)(160410123008S)(0000003540*s)(161030020000W)(0000000241*s)".to_string(),
        "1-0:32.32.0(00000)".to_string(),
        "1-0:52.32.0(00001)".to_string(),
        "1-0:72.32.0(00000)".to_string(),
        "1-0:32.36.0(00000)".to_string(),
        "1-0:52.36.0(00000)".to_string(),
        "1-0:72.36.0(00003)".to_string(),
        "0-0:96.13.1()".to_string(),
        "0-0:96.13.0()".to_string(),
        "1-0:31.7.0(000*A)".to_string(),
        "1-0:51.7.0(006*A)".to_string(),
        "1-0:71.7.0(002*A)".to_string(),
        "1-0:21.7.0(00.170*kW)".to_string(),
        "1-0:22.7.0(00.000*kW)".to_string(),
        "1-0:41.7.0(01.247*kW)".to_string(),
        "1-0:42.7.0(00.000*kW)".to_string(),
        "1-0:61.7.0(00.209*kW)".to_string(),
        "1-0:62.7.0(00.000*kW)".to_string(),
        "0-1:24.1.0(003)".to_string(),
        "0-1:96.1.0(4819243993373755377509728609491464)".to_string(),
        format!("0-1:24.2.1(161113200000W)({:05}.{:03}*m3)", 981 + seq / 1000, seq % 1000),
    ];
    seal_with_crc(&crlf(&lines))
}

fn dsmr50_lines(seq: u32) -> Vec<String> {
    vec![
        "/ISK5\\2M550T-1012".to_string(),
        String::new(),
        "1-3:0.2.8(50)".to_string(),
        format!("0-0:1.0.0(200512{:02}{:02}{:02}S)", 13, seq / 60 % 60, seq % 60),
        "0-0:96.1.1(4530303434303037313331363130323137)".to_string(),
        format!("1-0:1.8.1({:06}.{:03}*kWh)", 4070 + seq / 1000, seq % 1000),
        "1-0:1.8.2(002713.025*kWh)".to_string(),
        "1-0:2.8.1(000000.012*kWh)".to_string(),
        format!("1-0:2.8.2(000{:03}.{:03}*kWh)", 123 + seq / 1000, (seq * 7) % 1000),
        "0-0:96.14.0(0001)".to_string(),
        format!("1-0:1.7.0(00.{:03}*kW)", seq % 1000),
        "1-0:2.7.0(01.462*kW)".to_string(),
        "0-0:96.7.21(00010)".to_string(),
        "0-0:96.7.9(00003)".to_string(),
        "1-0:99.97.0(1)(0-0:96.7.19)(190709144035S)(0000000291*s)".to_string(),
        "1-0:32.32.0(00004)".to_string(),
        "1-0:52.32.0(00004)".to_string(),
        "1-0:72.32.0(00003)".to_string(),
        "1-0:32.36.0(00000)".to_string(),
        "1-0:52.36.0(00000)".to_string(),
        "1-0:72.36.0(00000)".to_string(),
        "0-0:96.13.0()".to_string(),
        "1-0:32.7.0(230.1*V)".to_string(),
        "1-0:52.7.0(231.7*V)".to_string(),
        "1-0:72.7.0(229.9*V)".to_string(),
        "1-0:31.7.0(001*A)".to_string(),
        "1-0:51.7.0(007*A)".to_string(),
        "1-0:71.7.0(000*A)".to_string(),
        "1-0:21.7.0(00.050*kW)".to_string(),
        "1-0:41.7.0(00.000*kW)".to_string(),
        "1-0:61.7.0(00.071*kW)".to_string(),
        "1-0:22.7.0(00.000*kW)".to_string(),
        "1-0:42.7.0(01.583*kW)".to_string(),
        "1-0:62.7.0(00.000*kW)".to_string(),
    ]
}

/// DSMR 5.0 with one gas meter and one line this parser does not know.
pub fn dsmr50(seq: u32) -> String {
    let mut lines = dsmr50_lines(seq);
    lines.extend([
        "0-1:24.1.0(003)".to_string(),
        "0-1:96.1.0(4730303339303031393336393930363139)".to_string(),
        format!("0-1:24.2.1(200512130500S)({:05}.{:03}*m3)", 2569 + seq / 1000, seq % 1000),
        "1-0:3.7.0(00.061*kvar)".to_string(),
    ]);
    seal_with_crc(&crlf(&lines))
}

/// DSMR 5.0 with a gas meter on channel 1 and a water meter on channel 2.
pub fn dsmr50_two_mbus(seq: u32) -> String {
    let mut lines = dsmr50_lines(seq);
    lines.extend([
        "0-1:24.1.0(003)".to_string(),
        "0-1:96.1.0(4730303339303031393336393930363139)".to_string(),
        format!("0-1:24.2.1(200512130500S)({:05}.{:03}*m3)", 2569 + seq / 1000, seq % 1000),
        "0-2:24.1.0(007)".to_string(),
        "0-2:96.1.0(3757303335303031363036343839393832)".to_string(),
        format!("0-2:24.2.1(200512130000S)({:05}.{:03}*m3)", 312 + seq / 1000, (seq * 3) % 1000),
    ]);
    seal_with_crc(&crlf(&lines))
}

/// Belgian Fluvius (e-MUCS) meter: peak demand, fuse threshold, currents with decimals.
pub fn fluvius(seq: u32) -> String {
    let lines = vec![
        "/FLU5\\253769484_A".to_string(),
        String::new(),
        "0-0:96.1.4(50217)".to_string(),
        "0-0:96.1.1(3153414733313031303231363035)".to_string(),
        format!("0-0:1.0.0(200512{:02}{:02}{:02}S)", 13, seq / 60 % 60, seq % 60),
        format!("1-0:1.8.1({:06}.{:03}*kWh)", 34 + seq / 1000, seq % 1000),
        "1-0:1.8.2(000015.758*kWh)".to_string(),
        "1-0:2.8.1(000000.000*kWh)".to_string(),
        "1-0:2.8.2(000000.011*kWh)".to_string(),
        format!("1-0:1.4.0(02.{:03}*kW)", seq % 1000),
        "1-0:1.6.0(200509134558S)(02.589*kW)".to_string(),
        "0-0:98.1.0(3)(1-0:1.6.0)(1-0:1.6.0)(200501000000S)(200423192538S)(03.695*kW)(200401000000S)(200305122139S)(05.980*kW)(200301000000S)(200210035421W)(04.318*kW)".to_string(),
        "0-0:96.14.0(0001)".to_string(),
        "1-0:1.7.0(00.000*kW)".to_string(),
        "1-0:2.7.0(00.000*kW)".to_string(),
        "1-0:21.7.0(00.000*kW)".to_string(),
        "1-0:41.7.0(00.000*kW)".to_string(),
        "1-0:61.7.0(00.000*kW)".to_string(),
        "1-0:22.7.0(00.000*kW)".to_string(),
        "1-0:42.7.0(00.000*kW)".to_string(),
        "1-0:62.7.0(00.000*kW)".to_string(),
        "1-0:32.7.0(234.7*V)".to_string(),
        "1-0:52.7.0(234.1*V)".to_string(),
        "1-0:72.7.0(233.9*V)".to_string(),
        "1-0:31.7.0(000.48*A)".to_string(),
        "1-0:51.7.0(001.13*A)".to_string(),
        "1-0:71.7.0(000.00*A)".to_string(),
        "0-0:96.3.10(1)".to_string(),
        "0-0:17.0.0(999.9*kW)".to_string(),
        "1-0:31.4.0(999*A)".to_string(),
        "0-0:96.13.0()".to_string(),
        "0-1:24.1.0(003)".to_string(),
        "0-1:96.1.1(37464C4F32313139303333373333)".to_string(),
        "0-1:24.4.0(1)".to_string(),
        format!("0-1:24.2.3(200512134558S)({:05}.{:03}*m3)", 112 + seq / 1000, seq % 1000),
    ];
    seal_with_crc(&crlf(&lines))
}
