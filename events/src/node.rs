//! The node's identity: its signing key (created on first start, file mode 0600) and the pinned public key
//! (kept in the data directory's config, and in the log's genesis event).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

pub const KEY_FILE: &str = "node.key";
pub const CONFIG_FILE: &str = "notch.json";

/// The data directory's configuration file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NodeConfig {
    /// Hex of the ed25519 public key every event of this node's log must be signed with.
    pub node_public_key: String,
}

pub struct NodeIdentity {
    pub signing_key: SigningKey,
    pub pinned: VerifyingKey,
}

impl NodeIdentity {
    /// Loads the key and the pin from `data_dir`, creating both on first start.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<NodeIdentity> {
        fs::create_dir_all(data_dir).with_context(|| format!("creating data directory {}", data_dir.display()))?;
        let key_path = data_dir.join(KEY_FILE);
        let signing_key = if key_path.exists() {
            read_key(&key_path)?
        } else {
            let key = SigningKey::generate(&mut rand::rngs::OsRng);
            write_key(&key_path, &key)?;
            key
        };
        let config_path = data_dir.join(CONFIG_FILE);
        let config = if config_path.exists() {
            let text = fs::read_to_string(&config_path)?;
            serde_json::from_str::<NodeConfig>(&text)
                .with_context(|| format!("{} is not a valid notch config", config_path.display()))?
        } else {
            let config = NodeConfig { node_public_key: hex::encode(signing_key.verifying_key().as_bytes()) };
            fs::write(&config_path, serde_json::to_string_pretty(&config)? + "\n")?;
            config
        };
        let pinned = parse_public_key(&config.node_public_key)
            .with_context(|| format!("node_public_key in {}", config_path.display()))?;
        if pinned != signing_key.verifying_key() {
            bail!(
                "{} holds a key whose public part {} is not the pinned node key {} in {}",
                key_path.display(),
                hex::encode(signing_key.verifying_key().as_bytes()),
                config.node_public_key,
                config_path.display()
            );
        }
        Ok(NodeIdentity { signing_key, pinned })
    }

    /// The pinned key alone, for auditors who must not need the private key.
    pub fn pinned_key(data_dir: &Path) -> anyhow::Result<VerifyingKey> {
        let path = data_dir.join(CONFIG_FILE);
        let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let config: NodeConfig = serde_json::from_str(&text)?;
        parse_public_key(&config.node_public_key)
    }
}

pub fn parse_public_key(hex_key: &str) -> anyhow::Result<VerifyingKey> {
    let bytes: [u8; 32] =
        hex::decode(hex_key.trim())?.try_into().map_err(|_| anyhow::anyhow!("a public key is 32 bytes"))?;
    Ok(VerifyingKey::from_bytes(&bytes)?)
}

fn read_key(path: &Path) -> anyhow::Result<SigningKey> {
    let mode = fs::metadata(path)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "{} is readable by others (mode {:o}); the node key must be private: chmod 600 {}",
            path.display(),
            mode,
            path.display()
        );
    }
    let text = fs::read_to_string(path)?;
    let seed: [u8; 32] = hex::decode(text.trim())
        .with_context(|| format!("{} is not a hex key", path.display()))?
        .try_into()
        .map_err(|_| anyhow::anyhow!("{} must hold a 32-byte key", path.display()))?;
    Ok(SigningKey::from_bytes(&seed))
}

fn write_key(path: &Path, key: &SigningKey) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(format!("{}\n", hex::encode(key.to_bytes())).as_bytes())?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_start_creates_a_private_key_and_pins_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = NodeIdentity::load_or_create(dir.path()).unwrap();
        let mode = fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = NodeIdentity::load_or_create(dir.path()).unwrap();
        assert_eq!(first.pinned, again.pinned);
        assert_eq!(NodeIdentity::pinned_key(dir.path()).unwrap(), first.pinned);
    }

    #[test]
    fn a_replaced_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        NodeIdentity::load_or_create(dir.path()).unwrap();
        fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
        write_key(&dir.path().join(KEY_FILE), &SigningKey::from_bytes(&[1; 32])).unwrap();
        let err = NodeIdentity::load_or_create(dir.path()).err().unwrap().to_string();
        assert!(err.contains("is not the pinned node key"), "{err}");
    }

    #[test]
    fn a_world_readable_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        NodeIdentity::load_or_create(dir.path()).unwrap();
        fs::set_permissions(dir.path().join(KEY_FILE), fs::Permissions::from_mode(0o644)).unwrap();
        let err = NodeIdentity::load_or_create(dir.path()).err().unwrap().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }
}
