//! Paced writeback of one embedded database's files: a thread that asks the kernel, four times a second, to start
//! writing back whatever the database's recently written files hold dirty (`sync_file_range(SYNC_FILE_RANGE_WRITE)`,
//! which only starts the I/O and never waits for it).
//!
//! Why: every durable commit ends in a disk cache flush, and a flush waits for all the writes queued before it. The
//! pages PostgreSQL 15 writes when it extends a relation (a zero page per new block, written outside its own
//! `backend_flush_after`) stay dirty in the page cache until the kernel's 30 s expiry writes the whole file's backlog
//! at once, about `shared_buffers` of it (~250 MB) under a heavy append. The commits behind that burst waited
//! 75–110 ms, once every 30 s (docs/benchmarks.md, session 5). Started little and often, the same writeback costs
//! the flushes nothing visible. (PostgreSQL 16 extends relations with `fallocate` and writes no such pages.)

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// How often the recently written files' dirty pages are handed to the kernel for writeback.
const PERIOD: Duration = Duration::from_millis(250);
/// How often the directory is listed again (new relation files, dropped ones).
const RESCAN: Duration = Duration::from_secs(1);
/// A file written within this long may still hold dirty pages (the kernel's expiry is 30 s).
const RECENT: Duration = Duration::from_secs(60);
/// Most files paced at once (the newest first): bounds the thread's descriptors and its work per period.
const MAX_FILES: usize = 1024;

/// The pacing thread; stops (and closes its files) when dropped.
pub struct WritebackPacer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl WritebackPacer {
    /// Paces the files directly inside `dir` (a database's directory, `base/<oid>`).
    pub fn start(dir: PathBuf) -> io::Result<WritebackPacer> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread = std::thread::Builder::new().name("notch-writeback".into()).spawn({
            let stop = Arc::clone(&stop);
            move || pace(&dir, &stop)
        })?;
        Ok(WritebackPacer { stop, thread: Some(thread) })
    }
}

impl Drop for WritebackPacer {
    fn drop(&mut self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn pace(dir: &Path, stop: &(Mutex<bool>, Condvar)) {
    let mut files: HashMap<PathBuf, File> = HashMap::new();
    let mut scanned: Option<Instant> = None;
    let mut failed_once = false;
    loop {
        if scanned.is_none_or(|at| at.elapsed() >= RESCAN) {
            scanned = Some(Instant::now());
            let recent: HashSet<PathBuf> = recent_files(dir, SystemTime::now(), MAX_FILES).into_iter().collect();
            files.retain(|path, _| recent.contains(path));
            for path in recent {
                if let Entry::Vacant(slot) = files.entry(path) {
                    // A file dropped since the listing is simply not paced.
                    if let Ok(file) = File::open(slot.key()) {
                        slot.insert(file);
                    }
                }
            }
        }
        for (path, file) in &files {
            if let Err(err) = start_writeback(file) {
                if !failed_once {
                    failed_once = true;
                    tracing::debug!("writeback of {} not started: {err}", path.display());
                }
            }
        }
        let (stopped, wake) = stop;
        let guard = stopped.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (guard, _) = wake
            .wait_timeout_while(guard, PERIOD, |stopped| !*stopped)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if *guard {
            return;
        }
    }
}

/// The regular files directly inside `dir` modified within [`RECENT`] of `now`, newest first, at most `max`. An
/// unreadable or vanished directory has none.
fn recent_files(dir: &Path, now: SystemTime, max: usize) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut recent: Vec<(SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let metadata = entry.metadata().ok()?;
            let modified = metadata.modified().ok()?;
            let age = now.duration_since(modified).unwrap_or(Duration::ZERO);
            (metadata.is_file() && age <= RECENT).then(|| (modified, entry.path()))
        })
        .collect();
    recent.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
    recent.truncate(max);
    recent.into_iter().map(|(_, path)| path).collect()
}

#[cfg(target_os = "linux")]
fn start_writeback(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open for the call's duration (borrowed from `file`); offset 0 and length 0 mean the
    // whole file; the call only queues I/O for pages already dirty.
    let result = unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_: &File) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn recent_files_are_the_newest_regular_files_within_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let touch = |name: &str, age: Duration| {
            let path = dir.path().join(name);
            File::create(&path).unwrap().set_modified(now - age).unwrap();
            path
        };
        let newest = touch("16384", Duration::from_secs(1));
        let older = touch("16384_fsm", Duration::from_secs(20));
        touch("2600", RECENT + Duration::from_secs(1));
        std::fs::create_dir(dir.path().join("pgsql_tmp")).unwrap();

        assert_eq!(recent_files(dir.path(), now, 10), vec![newest.clone(), older]);
        assert_eq!(recent_files(dir.path(), now, 1), vec![newest], "the bound keeps the newest");
        assert!(recent_files(&dir.path().join("dropped"), now, 10).is_empty());
    }

    /// Pages of `file` that are dirty and not yet under writeback, by `cachestat(2)` (Linux 6.5; `None` before,
    /// and on other systems). The libc crate has no wrapper yet: the syscall number is 451 on every architecture.
    fn dirty_pages(file: &File) -> Option<u64> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            #[repr(C)]
            struct Range {
                off: u64,
                len: u64,
            }
            #[repr(C)]
            #[derive(Default)]
            struct Stat {
                nr_cache: u64,
                nr_dirty: u64,
                nr_writeback: u64,
                nr_evicted: u64,
                nr_recently_evicted: u64,
            }
            const SYS_CACHESTAT: libc::c_long = 451;
            let range = Range { off: 0, len: 0 };
            let mut stat = Stat::default();
            // SAFETY: both structs are the kernel's layout and outlive the call; flags must be 0.
            let result = unsafe {
                libc::syscall(SYS_CACHESTAT, file.as_raw_fd(), &range as *const Range, &mut stat as *mut Stat, 0)
            };
            (result == 0).then_some(stat.nr_dirty)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = file;
            None
        }
    }

    #[test]
    fn the_pacer_writes_back_recently_written_files_and_stops_within_a_period() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = File::create(dir.path().join("16384")).unwrap();
        file.write_all(&vec![7u8; 4 * 1024 * 1024]).unwrap();
        let observable = dirty_pages(&file);
        if let Some(dirty) = observable {
            // Nothing else writes these pages back within the kernel's 30 s expiry.
            assert!(dirty > 0, "a fresh buffered write leaves dirty pages");
        }

        let pacer = WritebackPacer::start(dir.path().to_path_buf()).unwrap();
        if observable.is_some() {
            let deadline = Instant::now() + RESCAN * 3;
            while dirty_pages(&file) != Some(0) {
                assert!(
                    Instant::now() < deadline,
                    "the pacer started no writeback: {:?} pages dirty",
                    dirty_pages(&file)
                );
                std::thread::sleep(PERIOD / 5);
            }
        } else {
            eprintln!("cachestat(2) is not available: the writeback itself is not observed");
            std::thread::sleep(PERIOD * 2);
        }
        let started = Instant::now();
        drop(pacer);
        assert!(started.elapsed() < PERIOD * 4, "the pacer stops within a period, not after its next rescan");
    }
}
