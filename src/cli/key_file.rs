//! A private key at rest (the site key, a home's owner key): its 32-byte ed25519 seed, hex, encrypted with age
//! under a scrypt passphrase, in an ASCII-armored file readable by its owner only (`site-key.age` in the data
//! directory, `owner-key.age` in a home directory). The passphrase comes from `NOTCH_PASSPHRASE` or a prompt; a
//! new one (for `key passphrase`) from `NOTCH_NEW_PASSPHRASE` or a prompt.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use anyhow::{bail, Context};
use ed25519_dalek::SigningKey;
use zeroize::Zeroizing;

pub const SITE_KEY_FILE: &str = "site-key.age";
/// Most scrypt work a key file may ask for when it is opened (2^22: 4 GiB and seconds; files made here ask ~2^19).
const MAX_SCRYPT_LOG_N: u8 = 22;
/// Shortest passphrase accepted: scrypt slows guessing, it cannot save a trivial passphrase.
const MIN_PASSPHRASE: usize = 8;

/// The site key's file in a node's data directory.
pub fn site_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SITE_KEY_FILE)
}

/// The passphrase from `env_var`, else asked on the terminal (twice when `confirm`).
pub fn passphrase(env_var: &str, prompt: &str, confirm: bool) -> anyhow::Result<SecretString> {
    let phrase = match std::env::var(env_var) {
        Ok(phrase) => phrase,
        Err(_) => {
            let first = rpassword::prompt_password(prompt)
                .with_context(|| format!("reading the passphrase (or set {env_var})"))?;
            if confirm && rpassword::prompt_password("Repeat it: ")? != first {
                bail!("the passphrases differ");
            }
            first
        }
    };
    if phrase.chars().count() < MIN_PASSPHRASE {
        bail!("the passphrase must have at least {MIN_PASSPHRASE} characters");
    }
    Ok(SecretString::from(phrase))
}

pub fn write(path: &Path, key: &SigningKey, passphrase: SecretString) -> anyhow::Result<()> {
    write_secret(path, &key.to_bytes(), passphrase)
}

pub fn read(path: &Path, passphrase: SecretString) -> anyhow::Result<SigningKey> {
    let secret = read_secret(path, passphrase)?;
    let seed: [u8; 32] =
        secret.as_slice().try_into().map_err(|_| anyhow::anyhow!("{} does not hold a 32-byte key", path.display()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Any secret bytes (a provider's two keys), hex inside the age file.
pub fn write_secret(path: &Path, secret: &[u8], passphrase: SecretString) -> anyhow::Result<()> {
    let encryptor = age::Encryptor::with_user_passphrase(passphrase);
    let mut armored = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut armored, age::armor::Format::AsciiArmor)?;
    let mut writer = encryptor.wrap_output(armor)?;
    writer.write_all(Zeroizing::new(hex::encode(secret)).as_bytes())?;
    writer.finish()?.finish()?;
    // Write beside, then rename: a crash never leaves a half-written key file.
    let tmp = path.with_extension("age.tmp");
    write_private(&tmp, &armored).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

pub fn read_secret(path: &Path, passphrase: SecretString) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let armored = std::fs::read(path).with_context(|| format!("reading the key file {}", path.display()))?;
    let decryptor = age::Decryptor::new(age::armor::ArmoredReader::new(&armored[..]))?;
    let mut identity = age::scrypt::Identity::new(passphrase);
    // age's own bound is this machine's speed measured now (+4): a process preempted while it measures (a busy
    // machine) would refuse its own key file. The file is the owner's, so a fixed bound is safe.
    identity.set_max_work_factor(MAX_SCRYPT_LOG_N);
    let mut reader = decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity)).map_err(|err| match err {
        age::DecryptError::ExcessiveWork { required, .. } => {
            anyhow::anyhow!("{} asks for scrypt work 2^{required}, more than 2^{MAX_SCRYPT_LOG_N}", path.display())
        }
        _ => anyhow::anyhow!("cannot decrypt {}: wrong passphrase?", path.display()),
    })?;
    let mut text = Zeroizing::new(String::new());
    reader.read_to_string(&mut text)?;
    let secret = hex::decode(text.trim()).map_err(|_| anyhow::anyhow!("{} does not hold a key", path.display()))?;
    Ok(Zeroizing::new(secret))
}

/// A new file readable and writable by its owner only (an encrypted key is still nobody else's to copy).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().create(true).write(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
