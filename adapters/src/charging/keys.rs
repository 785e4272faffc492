//! The charging roles' secrets, kept beside the node key in the data directory (`<data_dir>/charging/`), each a
//! hex file of mode 0600 created on first use: the authority's and the provider's ed25519 keys, and the
//! authority's card token secret.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context};
use domain::charging::billing::CardTokenKey;
use ed25519_dalek::SigningKey;
use rand::RngCore;

pub const AUTHORITY_KEY_FILE: &str = "authority.key";
pub const PROVIDER_KEY_FILE: &str = "provider.key";
pub const CARD_TOKEN_KEY_FILE: &str = "card-token.key";

#[derive(Clone)]
pub struct ChargingKeys {
    pub authority: SigningKey,
    pub provider: SigningKey,
    pub card_token: CardTokenKey,
}

impl ChargingKeys {
    pub fn load_or_create(dir: &Path) -> anyhow::Result<ChargingKeys> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(ChargingKeys {
            authority: SigningKey::from_bytes(&secret(&dir.join(AUTHORITY_KEY_FILE))?),
            provider: SigningKey::from_bytes(&secret(&dir.join(PROVIDER_KEY_FILE))?),
            card_token: CardTokenKey(secret(&dir.join(CARD_TOKEN_KEY_FILE))?),
        })
    }
}

/// Reads a 32-byte secret, creating it from the OS random source if the file does not exist.
fn secret(path: &Path) -> anyhow::Result<[u8; 32]> {
    if !path.exists() {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        file.write_all(format!("{}\n", hex::encode(bytes)).as_bytes())?;
        file.sync_all()?;
        return Ok(bytes);
    }
    let mode = fs::metadata(path)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!("{} is readable by others (mode {mode:o}): chmod 600 {}", path.display(), path.display());
    }
    let text = fs::read_to_string(path)?;
    hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("{} must hold 32 bytes in hex", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let first = ChargingKeys::load_or_create(dir.path()).unwrap();
        let again = ChargingKeys::load_or_create(dir.path()).unwrap();
        assert_eq!(first.authority.to_bytes(), again.authority.to_bytes());
        assert_ne!(first.authority.to_bytes(), first.provider.to_bytes());
        let mode = fs::metadata(dir.path().join(CARD_TOKEN_KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
