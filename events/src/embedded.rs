//! The zero-configuration database: a private PostgreSQL cluster under the data directory, listening only on a
//! Unix socket inside it, made with the server binaries installed on the machine.
//!
//! Several notch processes may share one data directory (`serve` and an `audit` beside it, or a `serve` restarted
//! after SIGKILL while its orphaned server still runs). Two file locks arbitrate: `start.lock`, held exclusively
//! while a process starts or stops the server, and `users.lock`, held shared by every process using it. Only a
//! process that can turn its `users.lock` exclusive is the last user, and stops the server. A killed process
//! loses its locks with it, so its orphaned server is adopted by the next start.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{Gid, Uid, User};

use crate::writeback::WritebackPacer;

/// Checkpoints come every [`CHECKPOINT_TIMEOUT`], or sooner after about half of [`MAX_WAL_SIZE`] of WAL.
/// PostgreSQL's 1GB default started one every ~25 s at 10,000 MAM messages a second (2.4 kB of WAL each), inside
/// every `bench mam` run, and each checkpoint starts a burst of full-page images (an index page's first change
/// after it is logged whole). With 4GB they come about four times less often, and there is less WAL in all; the
/// price is disk (up to this much WAL kept) and a longer crash recovery (replaying up to this much).
const MAX_WAL_SIZE: &str = "4GB";
const CHECKPOINT_TIMEOUT: &str = "10min";

/// Backends ask the kernel to write back what they write out of shared buffers every this many bytes (PostgreSQL's
/// default on Linux is 0: never). Without it, a heavy append left the evicted pages dirty in the page cache until
/// the kernel's 30 s expiry wrote the whole backlog at once (0.9 GB in one second at 10,000 MAM messages a second),
/// and every WAL flush queued behind it: the one stall of 150–280 ms in every `bench mam` run
/// (docs/benchmarks.md, session 5). With it, writeback follows the appends at a steady rate.
const BACKEND_FLUSH_AFTER: &str = "256kB";
/// A WAL segment is created sparse instead of filled with 16 MB of zeros. PostgreSQL creates a segment when no
/// recycled one is ready (a young cluster, or the first minutes at a higher rate than before), holding the WAL write
/// lock meanwhile: on this machine each zero fill held every commit for ~60 ms, one every 0.6 s at 10,000 MAM
/// messages a second, which set a young cluster's p99. On ext4 the sparse segment's blocks are allocated as its
/// WAL is written, at no measurable cost to the flushes (docs/benchmarks.md, session 5).
const WAL_INIT_ZERO: &str = "off";

/// glibc malloc settings for the server processes. A backend that receives a large message (a commit of a few
/// hundred ~2 KB rows as column arrays) allocates past glibc's default mmap threshold and trim point, so each such
/// commit mapped and zeroed fresh pages and gave them back afterwards: page faults and `brk` were ~4 % of the
/// machine under `bench mam`. With these, a backend keeps reusing its heap (memory is returned only beyond 256 MB
/// free).
const MALLOC_TUNABLES: &str =
    "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456:glibc.malloc.top_pad=16777216";

/// The cluster's superuser; the service itself logs in as `notch_app`.
pub const SUPERUSER: &str = "notch";
/// PostgreSQL's limit on a Unix socket path (sun_path), less the terminating NUL.
const MAX_SOCKET_PATH_BYTES: usize = 107;
const START_TIMEOUT_S: u32 = 120;
const START_ATTEMPTS: u64 = 3;
/// How long the backends of a crashed server get to exit on their own.
const ORPHAN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "no PostgreSQL server binaries found (initdb, pg_ctl, postgres) on PATH, via `pg_config --bindir`, or under \
         /usr/lib/postgresql/*/bin. Install them (Debian/Ubuntu: `apt-get install postgresql`), or run notch against \
         an existing server with --database-url / DATABASE_URL"
    )]
    NoServerBinaries,
    #[error("the socket path {0} is longer than the {MAX_SOCKET_PATH_BYTES} bytes a Unix socket allows: choose a shorter --data-dir")]
    SocketPathTooLong(String),
    #[error(
        "PostgreSQL refuses to run as root, so notch runs it as user '{user}', who cannot enter {dir}: allow it \
         (chmod o+x {dir}) or choose a --data-dir under /var/lib or /tmp"
    )]
    Unreachable { user: String, dir: String },
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A running embedded cluster.
pub struct EmbeddedPostgres {
    pgdata: PathBuf,
    socket_dir: PathBuf,
    bin_dir: PathBuf,
    run_as: Option<(Uid, Gid)>,
    /// `users.lock`, held shared while this process uses the cluster; `None` once stopped.
    users: Option<Flock<File>>,
    start_lock: PathBuf,
    keep_running: bool,
    /// Started by [`EmbeddedPostgres::pace_writeback`]; stopped before the server.
    pacer: Option<WritebackPacer>,
}

impl EmbeddedPostgres {
    /// Initialises the cluster on first use, adopts it if it is already running, or starts it. Blocking.
    pub fn start(data_dir: &Path, keep_running: bool) -> Result<EmbeddedPostgres, EmbeddedError> {
        fs::create_dir_all(data_dir)?;
        let data_dir = data_dir.canonicalize()?;
        let pgdata = data_dir.join("pg");
        let socket_dir = data_dir.join("run");
        let log_dir = data_dir.join("log");
        let socket = socket_dir.join(".s.PGSQL.5432");
        if socket.as_os_str().len() > MAX_SOCKET_PATH_BYTES {
            return Err(EmbeddedError::SocketPathTooLong(socket.display().to_string()));
        }
        let starting = lock(&data_dir.join("start.lock"), FlockArg::LockExclusive)?;

        let bin_dir = find_bin_dir(&pgdata)?;
        let run_as = unprivileged_user()?;
        for dir in [&pgdata, &socket_dir, &log_dir] {
            fs::create_dir_all(dir)?;
        }
        fs::set_permissions(&pgdata, fs::Permissions::from_mode(0o700))?;
        fs::set_permissions(&socket_dir, fs::Permissions::from_mode(0o700))?;
        if let Some((uid, gid, name)) = &run_as {
            // The data directory holds the node key (mode 0600): others may enter it, never list or read it.
            let mode = fs::metadata(&data_dir)?.permissions().mode();
            fs::set_permissions(&data_dir, fs::Permissions::from_mode((mode & 0o777) | 0o711))?;
            for dir in [&pgdata, &socket_dir, &log_dir] {
                nix::unistd::chown(dir, Some(*uid), Some(*gid)).map_err(std::io::Error::from)?;
            }
            check_reachable(&data_dir, *uid, name)?;
        }
        let mut pg = EmbeddedPostgres {
            pgdata,
            socket_dir,
            bin_dir,
            run_as: run_as.map(|(uid, gid, _)| (uid, gid)),
            users: None,
            start_lock: PathBuf::new(),
            keep_running: true, // until started: a failed start must not stop a server someone else runs
            pacer: None,
        };
        if !pg.pgdata.join("PG_VERSION").exists() {
            pg.initdb()?;
        }
        let settings_changed = pg.write_settings()?;
        if pg.is_running()? {
            if settings_changed {
                // Adopted with older settings: the new ones apply to it too (all but `shared_buffers` and
                // `max_connections`, which wait for its next start).
                pg.run("pg_ctl reload", pg.pg_ctl().arg("reload").arg("-D").arg(&pg.pgdata))?;
            }
        } else {
            pg.reap_orphaned_backends();
            pg.start_with_retries(&log_dir.join("postgres.log"))?;
        }
        pg.users = Some(lock(&data_dir.join("users.lock"), FlockArg::LockShared)?);
        pg.start_lock = data_dir.join("start.lock");
        pg.keep_running = keep_running;
        drop(starting);
        Ok(pg)
    }

    /// The directory holding the server's socket: the `host` of a connection.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// Connection settings for `user` on `dbname`.
    pub fn config(&self, user: &str, dbname: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config.host_path(&self.socket_dir).user(user).dbname(dbname).application_name("notch");
        config
    }

    /// Paces the writeback of database `database_oid`'s files while this process uses the cluster (see
    /// [`crate::writeback`]). notch's commands ask for it when they open their database; the test kit does not.
    pub fn pace_writeback(&mut self, database_oid: u32) -> Result<(), EmbeddedError> {
        if self.pacer.is_none() {
            self.pacer = Some(WritebackPacer::start(self.pgdata.join("base").join(database_oid.to_string()))?);
        }
        Ok(())
    }

    /// Stops the server unless another process still uses it (or `keep_running` was asked). Blocking.
    pub fn stop(&mut self) -> Result<(), EmbeddedError> {
        self.pacer = None;
        let Some(users) = self.users.take() else {
            return Ok(());
        };
        if self.keep_running {
            return Ok(());
        }
        let _stopping = lock(&self.start_lock, FlockArg::LockExclusive)?;
        match users.relock(FlockArg::LockExclusiveNonblock) {
            Ok(()) => {
                self.run(
                    "pg_ctl stop",
                    self.pg_ctl().args(["stop", "-m", "fast", "-w", "-t", "60", "-D"]).arg(&self.pgdata),
                )?;
                Ok(())
            }
            Err(_) => Ok(()), // another notch process still uses the cluster; it stops it when it leaves
        }
    }

    fn initdb(&self) -> Result<(), EmbeddedError> {
        let mut cmd = self.command("initdb");
        cmd.arg("-D").arg(&self.pgdata).args([
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-instructions",
        ]);
        self.run("initdb", &mut cmd)?;
        let mut conf = OpenOptions::new().append(true).open(self.pgdata.join("postgresql.conf"))?;
        writeln!(conf, "\n# Settings notch writes on every start.\ninclude_if_exists = 'notch.conf'")?;
        Ok(())
    }

    /// Writes `notch.conf` unless it already holds these settings; whether it changed.
    fn write_settings(&self) -> Result<bool, EmbeddedError> {
        let socket_dir = self.socket_dir.display().to_string().replace('\'', "''");
        let settings = format!(
            "# Written by notch, checked on every start; edit postgresql.conf for your own settings.\n\
             listen_addresses = ''\n\
             unix_socket_directories = '{socket_dir}'\n\
             unix_socket_permissions = 0700\n\
             max_connections = 200\n\
             shared_buffers = '256MB'\n\
             max_wal_size = '{MAX_WAL_SIZE}'\n\
             checkpoint_timeout = '{CHECKPOINT_TIMEOUT}'\n\
             backend_flush_after = '{BACKEND_FLUSH_AFTER}'\n\
             wal_init_zero = {WAL_INIT_ZERO}\n"
        );
        let path = self.pgdata.join("notch.conf");
        if fs::read_to_string(&path).is_ok_and(|written| written == settings) {
            return Ok(false);
        }
        fs::write(&path, settings)?;
        if let Some((uid, gid)) = self.run_as {
            nix::unistd::chown(&path, Some(uid), Some(gid)).map_err(std::io::Error::from)?;
        }
        Ok(true)
    }

    fn is_running(&self) -> Result<bool, EmbeddedError> {
        let output = self.pg_ctl().arg("status").arg("-D").arg(&self.pgdata).output()?;
        // pg_ctl status: 0 running, 3 not running, 4 no accessible data directory.
        match output.status.code() {
            Some(0) if self.postmaster_is_zombie() => {
                // Killed, but not yet reaped by its parent: it holds its pid, and both pg_ctl and a new server
                // would take it for a live one. Its pid file is stale.
                tracing::warn!("the embedded PostgreSQL was killed; clearing its stale postmaster.pid");
                fs::remove_file(self.pgdata.join("postmaster.pid"))?;
                Ok(false)
            }
            Some(0) => Ok(true),
            Some(3) => Ok(false),
            _ => Err(command_error("pg_ctl status", &output)),
        }
    }

    fn pg_ctl_start(&self, log_file: &Path) -> Result<(), EmbeddedError> {
        let mut cmd = self.pg_ctl();
        cmd.args(["start", "-w", "-t", &START_TIMEOUT_S.to_string(), "-D"]).arg(&self.pgdata).arg("-l").arg(log_file);
        self.run("pg_ctl start", &mut cmd).map(drop).map_err(|err| match fs::read_to_string(log_file) {
            Ok(log) => {
                let tail: Vec<&str> = log.lines().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect();
                EmbeddedError::Command {
                    what: "starting the embedded PostgreSQL".into(),
                    detail: format!("{err}; server log:\n{}", tail.join("\n")),
                }
            }
            Err(_) => err,
        })
    }

    fn postmaster_is_zombie(&self) -> bool {
        let pid = fs::read_to_string(self.pgdata.join("postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next().and_then(|line| line.trim().parse::<u32>().ok()));
        let Some(pid) = pid else { return false };
        // /proc/<pid>/stat: "pid (comm) state ..."; the state follows the last ')'.
        fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')))
            .unwrap_or(false)
    }

    /// After a crash of the server itself, its backends may outlive it for a moment, still attached to its shared
    /// memory, and a new server refuses to start beside them. Wait for them (they notice the dead postmaster and
    /// exit), and end those that linger: they belong to a server that no longer exists.
    fn reap_orphaned_backends(&self) {
        let deadline = std::time::Instant::now() + ORPHAN_GRACE;
        loop {
            let orphans = processes_in(&self.pgdata);
            if orphans.is_empty() {
                return;
            }
            if std::time::Instant::now() >= deadline {
                tracing::warn!(
                    "ending {} backends of a crashed PostgreSQL still in {}",
                    orphans.len(),
                    self.pgdata.display()
                );
                for pid in orphans {
                    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// `pg_ctl start`, tried a few times: a server that crashed a moment ago may still be releasing its resources.
    fn start_with_retries(&self, log_file: &Path) -> Result<(), EmbeddedError> {
        let mut attempt = 1;
        loop {
            match self.pg_ctl_start(log_file) {
                Ok(()) => return Ok(()),
                Err(err) if attempt < START_ATTEMPTS => {
                    tracing::warn!("starting the embedded PostgreSQL (attempt {attempt} of {START_ATTEMPTS}): {err}");
                    self.reap_orphaned_backends();
                    std::thread::sleep(std::time::Duration::from_secs(attempt));
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    fn pg_ctl(&self) -> Command {
        self.command("pg_ctl")
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        cmd.current_dir("/").env_remove("PGDATA").env("LC_ALL", "C").env("GLIBC_TUNABLES", MALLOC_TUNABLES);
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid.as_raw()).gid(gid.as_raw());
        }
        cmd
    }

    fn run(&self, what: &str, cmd: &mut Command) -> Result<Output, EmbeddedError> {
        let output = cmd.output()?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(command_error(what, &output))
        }
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            tracing::warn!("stopping the embedded PostgreSQL: {err}");
        }
    }
}

/// PostgreSQL server processes whose working directory is `dir` (they run in their data directory, and title
/// themselves `postgres: ...`); anyone else who happens to be in that directory is left alone.
fn processes_in(dir: &Path) -> Vec<nix::unistd::Pid> {
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let cwd = fs::read_link(entry.path().join("cwd")).ok()?;
            let cmdline = fs::read(entry.path().join("cmdline")).ok()?;
            (cwd == dir && cmdline.starts_with(b"postgres")).then(|| nix::unistd::Pid::from_raw(pid))
        })
        .collect()
}

fn lock(path: &Path, how: FlockArg) -> Result<Flock<File>, EmbeddedError> {
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(path)?;
    Flock::lock(file, how).map_err(|(_, errno)| EmbeddedError::Io(errno.into()))
}

fn command_error(what: &str, output: &Output) -> EmbeddedError {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    EmbeddedError::Command {
        what: what.into(),
        detail: format!("{} {}", stderr.trim(), stdout.trim()).trim().to_owned(),
    }
}

/// Where the server binaries are: the version that made an existing cluster first, then PATH, `pg_config
/// --bindir`, and the newest /usr/lib/postgresql/*/bin.
fn find_bin_dir(pgdata: &Path) -> Result<PathBuf, EmbeddedError> {
    let has_server = |dir: &Path| ["initdb", "pg_ctl", "postgres"].iter().all(|b| dir.join(b).is_file());
    if let Ok(version) = fs::read_to_string(pgdata.join("PG_VERSION")) {
        let dir = PathBuf::from(format!("/usr/lib/postgresql/{}/bin", version.trim()));
        if has_server(&dir) {
            return Ok(dir);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        if let Some(dir) = std::env::split_paths(&path).find(|dir| has_server(dir)) {
            return Ok(dir);
        }
    }
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if output.status.success() && has_server(&dir) {
            return Ok(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| Some((entry.file_name().to_str()?.parse().ok()?, entry.path().join("bin"))))
        .filter(|(_, dir)| has_server(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir).ok_or(EmbeddedError::NoServerBinaries)
}

/// Who runs the server when notch runs as root: `NOTCH_PG_USER`, else `postgres`, else `nobody`.
fn unprivileged_user() -> Result<Option<(Uid, Gid, String)>, EmbeddedError> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    let wanted = std::env::var("NOTCH_PG_USER").ok();
    let candidates = wanted.iter().map(String::as_str).chain(["postgres", "nobody"]);
    for name in candidates {
        if let Ok(Some(user)) = User::from_name(name) {
            if !user.uid.is_root() {
                return Ok(Some((user.uid, user.gid, user.name)));
            }
        }
    }
    Err(EmbeddedError::Command {
        what: "finding an unprivileged user for PostgreSQL".into(),
        detail: "no user 'postgres' or 'nobody'; set NOTCH_PG_USER to an existing non-root user".into(),
    })
}

/// Every ancestor of `dir` must let `uid` pass through, or the server cannot reach its data.
fn check_reachable(dir: &Path, uid: Uid, user: &str) -> Result<(), EmbeddedError> {
    for ancestor in dir.ancestors().skip(1) {
        let meta = fs::metadata(ancestor)?;
        let mode = meta.permissions().mode();
        let passable =
            mode & 0o001 != 0 || (std::os::unix::fs::MetadataExt::uid(&meta) == uid.as_raw() && mode & 0o100 != 0);
        if !passable {
            return Err(EmbeddedError::Unreachable { user: user.to_owned(), dir: ancestor.display().to_string() });
        }
    }
    Ok(())
}
