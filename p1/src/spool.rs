//! The durable local spool: sealed messages wait here, on disk, until the ledger acknowledges
//! them. Append-only segment files of CRC-checked records plus an `acked` file.
//!
//! Record: `payload length (u32 BE) | id (u64 BE) | CRC-32C of (id BE | payload) (u32 BE) |
//! payload`. Segment files are named by their first id (`00000000000000000042.seg`). Ids are the
//! channel indices: strictly increasing, so a replay after a crash posts the same id again and the
//! ledger recognises it.
//!
//! When full the spool refuses new records instead of dropping old ones: a dropped old record
//! would leave a hole in the channel's chain that readers cannot walk past, while a refused
//! telegram is never sealed and leaves none. The caller logs what it refused.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crc::{Crc, CRC_32_ISCSI};

const RECORD_CRC: Crc<u32> = Crc::<u32>::new(&CRC_32_ISCSI);
const HEADER_LEN: u64 = 16;
/// A record larger than this is corruption, not data (telegram envelopes are a few KiB).
const MAX_RECORD_LEN: u32 = 1 << 20;

#[derive(Debug, Clone)]
pub struct SpoolConfig {
    pub dir: PathBuf,
    /// Upper bound of the bytes the segment files may take together.
    pub max_bytes: u64,
    /// A new segment starts once the current one passes this size.
    pub segment_bytes: u64,
}

impl SpoolConfig {
    pub fn new(dir: PathBuf) -> SpoolConfig {
        SpoolConfig { dir, max_bytes: 256 * 1024 * 1024, segment_bytes: 4 * 1024 * 1024 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool is full ({used} of {max} bytes); record {id} of {len} bytes refused")]
    Full { id: u64, len: usize, used: u64, max: u64 },
    #[error("record id {id} is not above the last id {last}")]
    IdNotIncreasing { id: u64, last: u64 },
    #[error("record of {0} bytes is larger than a record may be")]
    TooLarge(usize),
    #[error("spool {0} is in use by another process (another notch-p1 running?)")]
    InUse(PathBuf),
    #[error("spool I/O at {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// What opening found: records waiting, and damage repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    pub pending: usize,
    /// Bytes cut from the end of the last segment (a write torn by a crash or power cut).
    pub truncated_bytes: u64,
    /// Records lost to corruption inside older segments (a damaged disk).
    pub corrupt_segments: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: u64,
    pub payload: Vec<u8>,
}

#[derive(Debug)]
struct Segment {
    first_id: u64,
    path: PathBuf,
    len: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    id: u64,
    segment_first_id: u64,
    offset: u64,
    len: u32,
}

#[derive(Debug)]
pub struct Spool {
    config: SpoolConfig,
    segments: VecDeque<Segment>,
    /// Records not yet acknowledged, oldest first.
    pending: VecDeque<Entry>,
    acked: Option<u64>,
    last_id: Option<u64>,
    current: Option<File>,
    /// Held for the spool's lifetime: one process per spool directory.
    _lock: nix::fcntl::Flock<File>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io { path: path.to_path_buf(), source }
}

/// The spool directory's lock, held by one process at a time (`run`, or a command that must not run beside it).
pub fn lock_data_dir(dir: &Path) -> Result<nix::fcntl::Flock<File>, SpoolError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let lock_path = dir.join("lock");
    let lock_file =
        OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(io(&lock_path))?;
    nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|_| SpoolError::InUse(dir.to_path_buf()))
}

impl Spool {
    pub fn open(config: SpoolConfig) -> Result<(Spool, Recovery), SpoolError> {
        let lock = lock_data_dir(&config.dir)?;
        let acked = read_acked(&config.dir.join("acked"))?;
        let mut names: Vec<(u64, PathBuf)> = std::fs::read_dir(&config.dir)
            .map_err(io(&config.dir))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let path = e.path();
                let id = path.file_name()?.to_str()?.strip_suffix(".seg")?.parse().ok()?;
                Some((id, path))
            })
            .collect();
        names.sort();
        let mut spool = Spool {
            config,
            segments: VecDeque::new(),
            pending: VecDeque::new(),
            acked,
            last_id: None,
            current: None,
            _lock: lock,
        };
        let mut recovery = Recovery::default();
        let count = names.len();
        let mut previous_id = None;
        for (i, (first_id, path)) in names.into_iter().enumerate() {
            let is_last = i + 1 == count;
            let valid_len = spool.scan_segment(first_id, &path, &mut previous_id)?;
            let file_len = std::fs::metadata(&path).map_err(io(&path))?.len();
            if valid_len < file_len {
                if is_last {
                    let f = OpenOptions::new().write(true).open(&path).map_err(io(&path))?;
                    f.set_len(valid_len).map_err(io(&path))?;
                    f.sync_all().map_err(io(&path))?;
                    recovery.truncated_bytes = file_len - valid_len;
                } else {
                    recovery.corrupt_segments.push(path.clone());
                }
            }
            spool.segments.push_back(Segment { first_id, path, len: valid_len });
        }
        spool.last_id = spool.acked.max(previous_id);
        if let Some(last) = spool.segments.back() {
            let f = OpenOptions::new().append(true).open(&last.path).map_err(io(&last.path))?;
            spool.current = Some(f);
        }
        spool.delete_acked_segments()?;
        recovery.pending = spool.pending.len();
        Ok((spool, recovery))
    }

    /// Reads a segment's records into `pending`; returns the length of its valid prefix.
    fn scan_segment(&mut self, first_id: u64, path: &Path, previous_id: &mut Option<u64>) -> Result<u64, SpoolError> {
        let mut bytes = Vec::new();
        File::open(path).and_then(|mut f| f.read_to_end(&mut bytes)).map_err(io(path))?;
        let mut at = 0usize;
        while let Some((id, len)) = parse_record(&bytes[at..]) {
            if previous_id.is_some_and(|previous| id <= previous) {
                break; // ids only increase: anything else is damage
            }
            if self.acked.is_none_or(|a| id > a) {
                self.pending.push_back(Entry { id, segment_first_id: first_id, offset: at as u64, len });
            }
            *previous_id = Some(id);
            at += HEADER_LEN as usize + len as usize;
        }
        Ok(at as u64)
    }

    /// The id the next record must exceed, if any record was ever written.
    pub fn last_id(&self) -> Option<u64> {
        self.last_id
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    pub fn used_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.len).sum()
    }

    /// Whether a payload of `len` bytes fits now.
    pub fn has_room(&self, len: usize) -> bool {
        self.used_bytes() + HEADER_LEN + len as u64 <= self.config.max_bytes
    }

    /// Appends and syncs one record. Its id must be above every id written before.
    pub fn append(&mut self, id: u64, payload: &[u8]) -> Result<(), SpoolError> {
        if let Some(last) = self.last_id.filter(|&last| id <= last) {
            return Err(SpoolError::IdNotIncreasing { id, last });
        }
        if payload.len() > MAX_RECORD_LEN as usize {
            return Err(SpoolError::TooLarge(payload.len()));
        }
        if !self.has_room(payload.len()) {
            return Err(SpoolError::Full {
                id,
                len: payload.len(),
                used: self.used_bytes(),
                max: self.config.max_bytes,
            });
        }
        let roll = match self.segments.back() {
            None => true,
            Some(s) => s.len >= self.config.segment_bytes,
        };
        if roll {
            let path = self.config.dir.join(format!("{id:020}.seg"));
            let f = OpenOptions::new().create(true).append(true).open(&path).map_err(io(&path))?;
            sync_dir(&self.config.dir)?;
            self.current = Some(f);
            self.segments.push_back(Segment { first_id: id, path, len: 0 });
        }
        let segment = self.segments.back_mut().expect("a segment exists after rolling");
        let file = self.current.as_mut().expect("the last segment is open");
        let mut record = Vec::with_capacity(HEADER_LEN as usize + payload.len());
        record.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        record.extend_from_slice(&id.to_be_bytes());
        record.extend_from_slice(&record_crc(id, payload).to_be_bytes());
        record.extend_from_slice(payload);
        file.write_all(&record).and_then(|_| file.sync_data()).map_err(io(&segment.path))?;
        self.pending.push_back(Entry {
            id,
            segment_first_id: segment.first_id,
            offset: segment.len,
            len: payload.len() as u32,
        });
        segment.len += record.len() as u64;
        self.last_id = Some(id);
        Ok(())
    }

    /// The oldest `max` records not yet acknowledged, in order.
    pub fn peek(&self, max: usize) -> Result<Vec<Record>, SpoolError> {
        let mut out = Vec::new();
        let mut open: Option<(u64, File)> = None;
        for entry in self.pending.iter().take(max) {
            if open.as_ref().is_none_or(|(id, _)| *id != entry.segment_first_id) {
                let segment = self
                    .segments
                    .iter()
                    .find(|s| s.first_id == entry.segment_first_id)
                    .expect("pending records live in known segments");
                open = Some((segment.first_id, File::open(&segment.path).map_err(io(&segment.path))?));
            }
            let (first_id, file) = open.as_mut().expect("opened above");
            let path = self.config.dir.join(format!("{first_id:020}.seg"));
            let mut payload = vec![0u8; entry.len as usize];
            file.seek(SeekFrom::Start(entry.offset + HEADER_LEN))
                .and_then(|_| file.read_exact(&mut payload))
                .map_err(io(&path))?;
            out.push(Record { id: entry.id, payload });
        }
        Ok(out)
    }

    /// Everything up to and including `id` has landed: remember that durably and free the
    /// segments that hold nothing else.
    pub fn ack(&mut self, id: u64) -> Result<(), SpoolError> {
        if self.acked.is_some_and(|a| a >= id) {
            return Ok(());
        }
        let path = self.config.dir.join("acked");
        let tmp = self.config.dir.join("acked.tmp");
        std::fs::write(&tmp, id.to_string())
            .and_then(|_| File::open(&tmp)?.sync_all())
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(io(&path))?;
        sync_dir(&self.config.dir)?;
        self.acked = Some(id);
        while self.pending.front().is_some_and(|e| e.id <= id) {
            self.pending.pop_front();
        }
        self.delete_acked_segments()
    }

    /// A segment can go once no pending record lives in it; the current one too when
    /// everything is acknowledged (the next append starts a new one).
    fn delete_acked_segments(&mut self) -> Result<(), SpoolError> {
        let oldest_pending = self.pending.front().map(|e| e.segment_first_id);
        while let Some(segment) = self.segments.front() {
            let in_use = oldest_pending.is_some_and(|first| first <= segment.first_id);
            if in_use {
                break;
            }
            if self.segments.len() == 1 {
                self.current = None;
            }
            std::fs::remove_file(&segment.path).map_err(io(&segment.path))?;
            self.segments.pop_front();
        }
        Ok(())
    }
}

fn record_crc(id: u64, payload: &[u8]) -> u32 {
    let mut digest = RECORD_CRC.digest();
    digest.update(&id.to_be_bytes());
    digest.update(payload);
    digest.finalize()
}

/// `Some((id, payload length))` if `bytes` starts with a whole, intact record.
fn parse_record(bytes: &[u8]) -> Option<(u64, u32)> {
    let header = bytes.get(..HEADER_LEN as usize)?;
    let len = u32::from_be_bytes(header[0..4].try_into().ok()?);
    let id = u64::from_be_bytes(header[4..12].try_into().ok()?);
    let crc = u32::from_be_bytes(header[12..16].try_into().ok()?);
    if len > MAX_RECORD_LEN {
        return None;
    }
    let payload = bytes.get(HEADER_LEN as usize..HEADER_LEN as usize + len as usize)?;
    (record_crc(id, payload) == crc).then_some((id, len))
}

fn read_acked(path: &Path) -> Result<Option<u64>, SpoolError> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.trim().parse().map(Some).map_err(|_| SpoolError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "acked is not a number"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> SpoolConfig {
        SpoolConfig { dir: dir.to_path_buf(), max_bytes: 10_000, segment_bytes: 500 }
    }

    #[test]
    fn records_survive_a_restart_in_order_and_acks_stick() {
        let dir = tempfile::tempdir().unwrap();
        let (mut spool, _) = Spool::open(config(dir.path())).unwrap();
        for id in 0..30u64 {
            spool.append(id, format!("message {id}").as_bytes()).unwrap();
        }
        spool.ack(9).unwrap();
        drop(spool);
        let (spool, recovery) = Spool::open(config(dir.path())).unwrap();
        assert_eq!(recovery.pending, 20);
        let ids: Vec<u64> = spool.peek(100).unwrap().iter().map(|r| r.id).collect();
        assert_eq!(ids, (10..30).collect::<Vec<_>>());
        assert_eq!(spool.peek(1).unwrap()[0].payload, b"message 10");
        assert_eq!(spool.last_id(), Some(29));
    }

    #[test]
    fn a_second_process_cannot_open_the_same_spool() {
        let dir = tempfile::tempdir().unwrap();
        let (_spool, _) = Spool::open(config(dir.path())).unwrap();
        assert!(matches!(Spool::open(config(dir.path())), Err(SpoolError::InUse(_))));
    }

    #[test]
    fn a_torn_last_record_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let (mut spool, _) = Spool::open(config(dir.path())).unwrap();
        spool.append(1, b"whole").unwrap();
        spool.append(2, b"torn by a power cut").unwrap();
        drop(spool);
        let seg = dir.path().join(format!("{:020}.seg", 1));
        let len = std::fs::metadata(&seg).unwrap().len();
        OpenOptions::new().write(true).open(&seg).unwrap().set_len(len - 3).unwrap();
        let (spool, recovery) = Spool::open(config(dir.path())).unwrap();
        assert_eq!(recovery.truncated_bytes, HEADER_LEN + 19 - 3);
        assert_eq!(spool.peek(10).unwrap(), vec![Record { id: 1, payload: b"whole".to_vec() }]);
        assert_eq!(spool.last_id(), Some(1));
    }

    #[test]
    fn a_full_spool_refuses_and_acks_free_space() {
        let dir = tempfile::tempdir().unwrap();
        let (mut spool, _) = Spool::open(config(dir.path())).unwrap();
        let payload = [7u8; 184]; // 200 bytes a record
        for id in 0..50 {
            spool.append(id, &payload).unwrap();
        }
        let err = spool.append(50, &payload).unwrap_err();
        assert!(matches!(err, SpoolError::Full { id: 50, .. }), "{err}");
        assert!(spool.used_bytes() <= 10_000);
        spool.ack(20).unwrap();
        assert!(spool.has_room(payload.len()));
        spool.append(50, &payload).unwrap();
        assert!(matches!(spool.append(50, &payload), Err(SpoolError::IdNotIncreasing { .. })));
        spool.ack(50).unwrap();
        assert_eq!(spool.pending(), 0);
        assert_eq!(spool.used_bytes(), 0, "fully acknowledged segments are deleted");
    }
}
