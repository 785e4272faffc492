//! The zero-configuration database: a private PostgreSQL cluster under the data directory, listening only on a
//! Unix socket inside it, made with the server binaries installed on the machine.
//!
//! Several notch processes may share one data directory (`serve` and an `audit` beside it, or a `serve` restarted
//! after SIGKILL while its orphaned server still runs). Two file locks arbitrate: `start.lock`, held exclusively
//! while a process starts or stops the server, and `users.lock`, held shared by every process using it. Only a
//! process that can turn its `users.lock` exclusive is the last user, and stops the server. A killed process
//! loses its locks with it, so its orphaned server is adopted by the next start.

mod host;
mod server_state;
pub mod writeback;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{Gid, Uid};

use crate::writeback::WritebackPacer;
use server_state::ServerState;

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
/// The server's port, pinned in `notch.conf`: it names the socket file (`.s.PGSQL.5432`) even though the server
/// listens on no TCP port, so a `PGPORT` in the caller's environment must not move it.
const PORT: u16 = 5432;
/// PostgreSQL's limit on a Unix socket path (sun_path), less the terminating NUL.
const MAX_SOCKET_PATH_BYTES: usize = 107;
/// How long a start waits for a server that is starting or recovering to accept connections. Crash recovery
/// replays up to `MAX_WAL_SIZE` of WAL, which takes tens of seconds on a slow disk.
const START_TIMEOUT: Duration = Duration::from_secs(180);
/// How many times a start runs `pg_ctl start` before it reports the server's own error.
const START_ATTEMPTS: u32 = 3;
/// How often a start looks again at a server that does not accept connections yet.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How long the backends of a crashed server get to exit on their own.
const ORPHAN_GRACE: Duration = Duration::from_secs(10);

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
    #[error(
        "the embedded PostgreSQL in {data_dir}/pg runs but has not accepted a connection in {waited_s} s: {why}. \
         It may still be replaying its WAL after a crash: run the command again later, or read \
         {data_dir}/log/postgres.log"
    )]
    NotAccepting { data_dir: String, waited_s: u64, why: String },
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
    /// Initialises the cluster on first use, adopts its server if one runs and accepts connections, waits for one
    /// that is starting or recovering, or starts it (clearing what a killed server left behind). Blocking; ends
    /// with a server that answers connections, or with an error after at most [`START_TIMEOUT`].
    pub fn start(data_dir: &Path, keep_running: bool) -> Result<EmbeddedPostgres, EmbeddedError> {
        fs::create_dir_all(data_dir)?;
        let data_dir = data_dir.canonicalize()?;
        let socket_dir = data_dir.join("run");
        let socket = socket_dir.join(format!(".s.PGSQL.{PORT}"));
        if socket.as_os_str().len() > MAX_SOCKET_PATH_BYTES {
            return Err(EmbeddedError::SocketPathTooLong(socket.display().to_string()));
        }
        let starting = lock(&data_dir.join("start.lock"), FlockArg::LockExclusive)?;
        let mut pg = Self::prepare(&data_dir)?;
        let settings_changed = pg.write_settings()?;
        let started = pg.bring_up(&data_dir.join("log").join("postgres.log"))?;
        if !started && settings_changed {
            // Adopted with older settings: the new ones apply to it too (all but `shared_buffers` and
            // `max_connections`, which wait for its next start).
            pg.run("pg_ctl reload", pg.pg_ctl().arg("reload").arg("-D").arg(&pg.pgdata))?;
        }
        pg.users = Some(lock(&data_dir.join("users.lock"), FlockArg::LockShared)?);
        pg.start_lock = data_dir.join("start.lock");
        pg.keep_running = keep_running;
        drop(starting);
        Ok(pg)
    }

    /// The cluster's directories with their owners and modes, and the cluster itself on first use.
    fn prepare(data_dir: &Path) -> Result<EmbeddedPostgres, EmbeddedError> {
        let pgdata = data_dir.join("pg");
        let socket_dir = data_dir.join("run");
        let log_dir = data_dir.join("log");
        let bin_dir = host::find_bin_dir(&pgdata)?;
        let run_as = host::unprivileged_user()?;
        for dir in [&pgdata, &socket_dir, &log_dir] {
            fs::create_dir_all(dir)?;
        }
        fs::set_permissions(&pgdata, fs::Permissions::from_mode(0o700))?;
        fs::set_permissions(&socket_dir, fs::Permissions::from_mode(0o700))?;
        if let Some((uid, gid, name)) = &run_as {
            // The data directory holds the node key (mode 0600): others may enter it, never list or read it.
            let mode = fs::metadata(data_dir)?.permissions().mode();
            fs::set_permissions(data_dir, fs::Permissions::from_mode((mode & 0o777) | 0o711))?;
            for dir in [&pgdata, &socket_dir, &log_dir] {
                nix::unistd::chown(dir, Some(*uid), Some(*gid)).map_err(std::io::Error::from)?;
            }
            host::check_reachable(data_dir, *uid, name)?;
        }
        let pg = EmbeddedPostgres {
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
        Ok(pg)
    }

    /// Looks at the server until it accepts connections, starting it when it is stopped or dead; whether this
    /// call started it (else it adopted a running one).
    fn bring_up(&self, log_file: &Path) -> Result<bool, EmbeddedError> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut starts = 0;
        let mut start_error = None;
        loop {
            match server_state::inspect(&self.pgdata, &self.socket()) {
                ServerState::Accepting => return Ok(starts > 0),
                ServerState::NotReady { why } => {
                    if Instant::now() >= deadline {
                        let data_dir = self.pgdata.parent().unwrap_or(&self.pgdata).display().to_string();
                        return Err(EmbeddedError::NotAccepting { data_dir, waited_s: START_TIMEOUT.as_secs(), why });
                    }
                    std::thread::sleep(POLL_INTERVAL);
                }
                dead_or_stopped => {
                    if starts == START_ATTEMPTS || Instant::now() >= deadline {
                        return Err(start_error.unwrap_or_else(|| EmbeddedError::Command {
                            what: "starting the embedded PostgreSQL".into(),
                            detail: format!("it did not start within {} s", START_TIMEOUT.as_secs()),
                        }));
                    }
                    if starts > 0 {
                        // A server that crashed a moment ago may still be releasing its resources.
                        std::thread::sleep(Duration::from_secs(starts.into()));
                    }
                    self.clear_dead_server(&dead_or_stopped)?;
                    starts += 1;
                    if let Err(err) = self.pg_ctl_start(log_file, deadline) {
                        tracing::warn!(
                            "starting the embedded PostgreSQL (attempt {starts} of {START_ATTEMPTS}): {err}"
                        );
                        start_error = Some(err);
                    }
                }
            }
        }
    }

    /// What a killed server leaves behind and a new one would refuse to start beside: its backends, still
    /// attached to its shared memory for a moment, and a `postmaster.pid` naming a zombie or a reused pid.
    fn clear_dead_server(&self, state: &ServerState) -> Result<(), EmbeddedError> {
        let ServerState::Dead { pid } = state else { return Ok(()) };
        tracing::warn!("the embedded PostgreSQL (pid {pid}) was killed; clearing what it left behind");
        self.reap_orphaned_backends();
        // Removed only if it still names the dead server: the backends are gone, so no one else wrote it since.
        let pid_file = self.pgdata.join("postmaster.pid");
        let names_it = fs::read_to_string(&pid_file)
            .is_ok_and(|text| text.lines().next().is_some_and(|line| line.trim() == pid.to_string()));
        if names_it {
            fs::remove_file(&pid_file)?;
        }
        Ok(())
    }

    /// The directory holding the server's socket: the `host` of a connection.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    fn socket(&self) -> PathBuf {
        self.socket_dir.join(format!(".s.PGSQL.{PORT}"))
    }

    /// Connection settings for `user` on `dbname`.
    pub fn config(&self, user: &str, dbname: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config.host_path(&self.socket_dir).port(PORT).user(user).dbname(dbname).application_name("notch");
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
        if users.relock(FlockArg::LockExclusiveNonblock).is_err() {
            return Ok(()); // another notch process still uses the cluster; it stops it when it leaves
        }
        if self.is_gone() {
            return Ok(()); // killed meanwhile: nothing to stop, the next start clears what it left
        }
        let stopped = self
            .run("pg_ctl stop", self.pg_ctl().args(["stop", "-m", "fast", "-w", "-t", "60", "-D"]).arg(&self.pgdata));
        match stopped {
            Err(_) if self.is_gone() => Ok(()), // it died while being stopped
            other => other.map(drop),
        }
    }

    fn is_gone(&self) -> bool {
        matches!(server_state::inspect(&self.pgdata, &self.socket()), ServerState::Stopped | ServerState::Dead { .. })
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
             port = {PORT}\n\
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

    /// `pg_ctl start`, waiting for the server to be ready until `deadline`. The log's last lines explain a failure.
    fn pg_ctl_start(&self, log_file: &Path, deadline: Instant) -> Result<(), EmbeddedError> {
        let wait_s = deadline.saturating_duration_since(Instant::now()).as_secs().max(1);
        let mut cmd = self.pg_ctl();
        cmd.args(["start", "-w", "-t", &wait_s.to_string(), "-D"]).arg(&self.pgdata).arg("-l").arg(log_file);
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

    /// After a crash of the server itself, its backends may outlive it for a moment, still attached to its shared
    /// memory, and a new server refuses to start beside them. Wait for them (they notice the dead postmaster and
    /// exit), and end those that linger: they belong to a server that no longer exists.
    fn reap_orphaned_backends(&self) {
        let deadline = Instant::now() + ORPHAN_GRACE;
        loop {
            let orphans = server_state::processes_in(&self.pgdata);
            if orphans.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    "ending {} backends of a crashed PostgreSQL still in {}",
                    orphans.len(),
                    self.pgdata.display()
                );
                for pid in orphans {
                    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                }
                std::thread::sleep(Duration::from_millis(200));
                return;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    fn pg_ctl(&self) -> Command {
        self.command("pg_ctl")
    }

    /// A server binary, run as the server's user, with none of the caller's `PG*` variables: `PGPORT`, `PGDATA`,
    /// `PGOPTIONS` and the like would change which cluster, port or settings the server uses.
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        for (name, _) in std::env::vars_os() {
            if name.as_bytes().starts_with(b"PG") {
                cmd.env_remove(name);
            }
        }
        cmd.current_dir("/").env("LC_ALL", "C").env("GLIBC_TUNABLES", MALLOC_TUNABLES);
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
