//! What the cluster's server is doing, read from outside it: its `postmaster.pid`, the process that file names,
//! and whether a connection is answered.
//!
//! `pg_ctl status` only asks the kernel whether the pid in `postmaster.pid` exists. So it takes for a running
//! server a postmaster that was SIGKILLed a moment ago and has not finished dying, a zombie that nobody reaps, and
//! an unrelated process that reused the pid. A start that adopted such a server failed at its first connection
//! (issue 19). Here a server counts as running only once it has answered a real connection.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::message::{backend, frontend};

use super::SUPERUSER;

/// How long a probe waits for the server's first answer. A live server answers a startup message in
/// milliseconds; one that was killed closes the connection as its socket goes away.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// A server's answer to a startup message is an authentication request or an error: a few hundred bytes.
const PROBE_ANSWER_MAX_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ServerState {
    /// No `postmaster.pid`: nobody runs the cluster.
    Stopped,
    /// `postmaster.pid` names a process that is gone, a zombie, or not this cluster's postmaster: the server was
    /// killed, and the file is stale.
    Dead { pid: i32 },
    /// The postmaster lives and answered a connection.
    Accepting,
    /// The postmaster lives but did not accept a connection (starting, recovering, stopping or dying): why.
    NotReady { why: String },
}

/// The state of the server of cluster `pgdata`, whose socket is `socket`.
pub(super) fn inspect(pgdata: &Path, socket: &Path) -> ServerState {
    let pid_file = match fs::read_to_string(pgdata.join("postmaster.pid")) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return ServerState::Stopped,
        Err(err) => return ServerState::NotReady { why: format!("postmaster.pid cannot be read: {err}") },
    };
    let Some(pid) = pid_file.lines().next().and_then(|line| line.trim().parse::<i32>().ok()) else {
        // A postmaster writes its pid file right after creating it; empty for long, it is a remnant.
        return ServerState::NotReady { why: "postmaster.pid names no process (being written, or a remnant)".into() };
    };
    if !is_live_postmaster(pid, pgdata) {
        return ServerState::Dead { pid };
    }
    match probe(socket) {
        Ok(()) => ServerState::Accepting,
        Err(why) => ServerState::NotReady { why },
    }
}

/// Whether `pid` is a live (not zombie) process running in `pgdata`, as a postmaster does. A process whose
/// working directory cannot be read (another user's, without the rights) is taken to be live.
fn is_live_postmaster(pid: i32, pgdata: &Path) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    // "pid (comm) state ...": the state follows the last ')'. Z: zombie, X: dead.
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
    if matches!(state, Some('Z' | 'X') | None) {
        return false;
    }
    match fs::read_link(format!("/proc/{pid}/cwd")) {
        Ok(cwd) => cwd == pgdata,
        Err(_) => true,
    }
}

/// Sends a startup message on `socket` and reads the first answer: an authentication request means the server
/// accepts connections; anything else is returned as the reason it does not.
fn probe(socket: &Path) -> Result<(), String> {
    let mut stream = UnixStream::connect(socket).map_err(|err| format!("its socket refuses connections ({err})"))?;
    let io = |err: std::io::Error| format!("the connection failed ({err})");
    stream.set_read_timeout(Some(PROBE_TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT)).map_err(io)?;
    let mut out = BytesMut::new();
    let parameters = [("user", SUPERUSER), ("database", "postgres"), ("application_name", "notch-probe")];
    frontend::startup_message(parameters, &mut out).map_err(io)?;
    stream.write_all(&out).map_err(io)?;
    match first_answer(&mut stream)? {
        backend::Message::ErrorResponse(body) => Err(error_text(&body)),
        backend::Message::AuthenticationOk => {
            out.clear();
            frontend::terminate(&mut out);
            let _ = stream.write_all(&out); // the answer is in; a failed goodbye changes nothing
            Ok(())
        }
        // Any other authentication request also means a running server that accepts connections.
        _ => Ok(()),
    }
}

fn first_answer(stream: &mut UnixStream) -> Result<backend::Message, String> {
    let mut input = BytesMut::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        match backend::Message::parse(&mut input) {
            Ok(Some(message)) => return Ok(message),
            Ok(None) => {}
            Err(err) => return Err(format!("the server's answer is not the PostgreSQL protocol ({err})")),
        }
        if input.len() > PROBE_ANSWER_MAX_BYTES {
            return Err("the server's answer is longer than any startup answer".into());
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err("the server closed the connection without an answer".into()),
            Ok(n) => input.extend_from_slice(&chunk[..n]),
            Err(err) => return Err(format!("no answer from the server ({err})")),
        }
    }
}

/// The message of an ErrorResponse ("the database system is starting up"), or its SQLSTATE.
fn error_text(body: &backend::ErrorResponseBody) -> String {
    let mut fields = body.fields();
    let (mut message, mut code) = (None, None);
    while let Ok(Some(field)) = fields.next() {
        match field.type_() {
            b'M' => message = Some(String::from_utf8_lossy(field.value_bytes()).into_owned()),
            b'C' => code = Some(String::from_utf8_lossy(field.value_bytes()).into_owned()),
            _ => {}
        }
    }
    match (message, code) {
        (Some(message), _) => format!("it answers \"{message}\""),
        (None, Some(code)) => format!("it answers SQLSTATE {code}"),
        (None, None) => "it answers with an error".into(),
    }
}

/// PostgreSQL server processes whose working directory is `dir` (they run in their data directory, and title
/// themselves `postgres: ...`); anyone else who happens to be in that directory is left alone.
pub(super) fn processes_in(dir: &Path) -> Vec<nix::unistd::Pid> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_without_a_pid_file_is_stopped() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(inspect(dir.path(), &dir.path().join(".s.PGSQL.5432")), ServerState::Stopped);
    }

    #[test]
    fn a_pid_file_naming_a_process_elsewhere_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        // This test's own process is live, but it does not run in the cluster's directory.
        fs::write(dir.path().join("postmaster.pid"), format!("{}\n{}\n", std::process::id(), dir.path().display()))
            .unwrap();
        let state = inspect(dir.path(), &dir.path().join(".s.PGSQL.5432"));
        assert_eq!(state, ServerState::Dead { pid: std::process::id() as i32 });
    }

    /// A process running in `dir`, as a postmaster does, killed when dropped.
    struct InDir(std::process::Child);

    impl InDir {
        fn start(dir: &Path) -> InDir {
            InDir(std::process::Command::new("sleep").arg("60").current_dir(dir).spawn().unwrap())
        }
    }

    impl Drop for InDir {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn a_live_process_in_the_cluster_whose_socket_refuses_is_not_ready() {
        let dir = tempfile::tempdir().unwrap();
        let pgdata = dir.path().canonicalize().unwrap();
        let process = InDir::start(&pgdata);
        fs::write(pgdata.join("postmaster.pid"), format!("{}\n", process.0.id())).unwrap();
        let state = inspect(&pgdata, &pgdata.join(".s.PGSQL.5432"));
        assert!(matches!(state, ServerState::NotReady { ref why } if why.contains("refuses")), "{state:?}");
    }

    #[test]
    fn a_zombie_postmaster_is_dead() {
        let dir = tempfile::tempdir().unwrap();
        let pgdata = dir.path().canonicalize().unwrap();
        let mut process = InDir::start(&pgdata);
        let pid = process.0.id() as i32;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
        // Not waited for: it stays a zombie, holding its pid, until the drop reaps it.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !fs::read_to_string(format!("/proc/{pid}/stat")).unwrap().contains(") Z") {
            assert!(std::time::Instant::now() < deadline, "the killed child became a zombie");
            std::thread::sleep(Duration::from_millis(10));
        }
        fs::write(pgdata.join("postmaster.pid"), format!("{pid}\n")).unwrap();
        assert_eq!(inspect(&pgdata, &pgdata.join(".s.PGSQL.5432")), ServerState::Dead { pid });
        let _ = process.0.wait();
    }

    #[test]
    fn an_empty_pid_file_is_not_taken_for_a_server() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("postmaster.pid"), "").unwrap();
        let state = inspect(dir.path(), &dir.path().join(".s.PGSQL.5432"));
        assert!(matches!(state, ServerState::NotReady { .. }), "{state:?}");
    }

    #[test]
    fn a_socket_that_hangs_up_without_answering_is_not_ready() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join(".s.PGSQL.5432");
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            // Read the whole startup message first, so the hang-up is a clean end of stream, not a reset.
            let mut length = [0u8; 4];
            conn.read_exact(&mut length).unwrap();
            let mut rest = vec![0u8; i32::from_be_bytes(length) as usize - 4];
            conn.read_exact(&mut rest).unwrap();
        });
        let answer = probe(&socket);
        server.join().unwrap();
        assert!(matches!(answer, Err(ref why) if why.contains("closed")), "{answer:?}");
    }

    #[test]
    fn a_startup_error_is_reported_in_the_servers_words() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join(".s.PGSQL.5432");
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut startup = [0u8; 4];
            conn.read_exact(&mut startup).unwrap();
            // ErrorResponse: 'E', length, fields S, C, M, then a terminating zero.
            let fields = b"SFATAL\0C57P03\0Mthe database system is starting up\0\0";
            let mut answer = vec![b'E'];
            answer.extend_from_slice(&(4 + fields.len() as i32).to_be_bytes());
            answer.extend_from_slice(fields);
            conn.write_all(&answer).unwrap();
        });
        let answer = probe(&socket);
        server.join().unwrap();
        assert_eq!(answer, Err("it answers \"the database system is starting up\"".to_owned()));
    }
}
