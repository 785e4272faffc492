//! Opening the meter's serial port: line settings per DSMR version, exclusive access.

use std::path::{Path, PathBuf};

use tokio_serial::{DataBits, Parity, SerialPortBuilderExt, SerialStream, StopBits};

/// The line settings each DSMR generation uses on its P1 port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
pub enum Preset {
    /// DSMR 2.2 and 3: 9600 baud, 7 data bits, even parity, 1 stop bit.
    #[value(name = "2.2", alias = "3")]
    Dsmr22,
    /// DSMR 4.x, 5.x and Belgian e-MUCS: 115200 baud, 8N1.
    #[value(name = "5", alias = "4", alias = "4.2", alias = "5.0")]
    Dsmr5,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineSettings {
    pub baud_rate: u32,
    pub data_bits: DataBits,
    pub parity: Parity,
    pub stop_bits: StopBits,
}

impl Preset {
    pub fn line_settings(self) -> LineSettings {
        match self {
            Preset::Dsmr22 => LineSettings {
                baud_rate: 9600,
                data_bits: DataBits::Seven,
                parity: Parity::Even,
                stop_bits: StopBits::One,
            },
            Preset::Dsmr5 => LineSettings {
                baud_rate: 115_200,
                data_bits: DataBits::Eight,
                parity: Parity::None,
                stop_bits: StopBits::One,
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "serial port {0} is held by another reader (it holds the exclusive lock); \
         stop the other program (dsmr-reader, ser2net, another notch-p1) first"
    )]
    Busy(PathBuf),
    #[error("serial port {0} does not exist (meter cable unplugged?)")]
    Missing(PathBuf),
    #[error("cannot open serial port {path}: {source}")]
    Other { path: PathBuf, source: tokio_serial::Error },
}

/// Opens the port for exclusive reading: TIOCEXCL plus an exclusive `flock`, so a second reader
/// (even one running as root, which TIOCEXCL alone does not stop) gets [`OpenError::Busy`].
pub fn open_port(path: &Path, settings: LineSettings) -> Result<SerialStream, OpenError> {
    let builder = tokio_serial::new(path.to_string_lossy(), settings.baud_rate)
        .data_bits(settings.data_bits)
        .parity(settings.parity)
        .stop_bits(settings.stop_bits);
    builder.open_native_async().map_err(|source| match source.kind {
        tokio_serial::ErrorKind::NoDevice => OpenError::Busy(path.to_path_buf()),
        tokio_serial::ErrorKind::Io(std::io::ErrorKind::NotFound) => OpenError::Missing(path.to_path_buf()),
        _ => OpenError::Other { path: path.to_path_buf(), source },
    })
}
