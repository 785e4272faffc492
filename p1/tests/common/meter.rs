//! A fake meter: a pseudo-terminal whose slave end is reachable through a symlink.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::Duration;

use nix::pty::openpty;
use rand::rngs::StdRng;
use rand::Rng;

/// A pty whose slave is reachable at `link` (as udev gives a meter cable a stable name).
pub struct FakeMeter {
    master: std::fs::File,
}

impl FakeMeter {
    pub fn plug_in(link: &Path) -> FakeMeter {
        let pty = openpty(None, None).expect("openpty");
        let slave_path = nix::unistd::ttyname(&pty.slave).expect("ttyname");
        let tmp_link = link.with_extension("new");
        let _ = std::fs::remove_file(&tmp_link);
        std::os::unix::fs::symlink(&slave_path, &tmp_link).unwrap();
        std::fs::rename(&tmp_link, link).unwrap();
        // The reader opens the slave by path; our own handle on it is not needed.
        drop::<OwnedFd>(pty.slave);
        FakeMeter { master: std::fs::File::from(pty.master) }
    }

    pub async fn send_in_pieces(&mut self, telegram: &[u8], rng: &mut StdRng) {
        use std::io::Write;
        let mut rest = telegram;
        while !rest.is_empty() {
            let n = rng.gen_range(1..=rest.len().min(97));
            self.master.write_all(&rest[..n]).unwrap();
            rest = &rest[n..];
            tokio::time::sleep(Duration::from_millis(rng.gen_range(0..4))).await;
        }
    }
}
