//! What the machine provides for the embedded server: its binaries, and the unprivileged user it runs as when
//! notch runs as root (PostgreSQL refuses root).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::unistd::{Gid, Uid, User};

use super::EmbeddedError;

/// Where the server binaries are: the version that made an existing cluster first, then PATH, `pg_config
/// --bindir`, and the newest /usr/lib/postgresql/*/bin.
pub(super) fn find_bin_dir(pgdata: &Path) -> Result<PathBuf, EmbeddedError> {
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
pub(super) fn unprivileged_user() -> Result<Option<(Uid, Gid, String)>, EmbeddedError> {
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
pub(super) fn check_reachable(dir: &Path, uid: Uid, user: &str) -> Result<(), EmbeddedError> {
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
