//! Secrets sealed under a server key, so the log never holds a usable secret.
//!
//! Signing webhooks needs each account's auth token, but the log is read by others (billing,
//! anything subscribed to Kafka). What goes into an event is therefore [`Keyring::seal`]ed:
//! XChaCha20-Poly1305 under a 32-byte server key that lives outside the log, in a key file
//! (`--secret-key-file`, default `DATA_DIR/secret.key`, created with mode 0600 on first
//! start). The sealed text is `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`: the key id
//! (first 8 hex digits of the key's SHA-256) says which key sealed it, so after a rotation the
//! old keys (`--secret-key-previous-files`) still open what they sealed while new text is
//! sealed under the current key. The version and key id are the AEAD's associated data, so
//! neither can be edited without the text failing to open.
//!
//! The invariants: key bytes are never printed (`Debug` shows the id only); a key file of the
//! wrong size or that cannot be read is refused with the path in the error, never replaced;
//! [`open`] fails with an error, never a panic, on any text it did not produce.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::TryRngCore;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bytes in a server key.
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const VERSION: &str = "v1";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A server key and its id.
#[derive(Clone)]
pub struct SecretKey {
    bytes: [u8; KEY_LEN],
    id: String,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey").field("id", &self.id).finish()
    }
}

impl SecretKey {
    /// The key made of these bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> SecretKey {
        let id = hex::encode(&Sha256::digest(bytes)[..4]);
        SecretKey { bytes, id }
    }

    /// A new random key from the operating system's generator.
    pub fn generate() -> Result<SecretKey, KeyFileError> {
        let mut bytes = [0u8; KEY_LEN];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| KeyFileError::Random(e.to_string()))?;
        Ok(SecretKey::from_bytes(bytes))
    }

    /// The key id: the first 8 hex digits of the key's SHA-256 (names the key, reveals
    /// nothing usable).
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Why a key file was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file exists but cannot be read.
    #[error("cannot read the secret key file {path}: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file holds something other than exactly [`KEY_LEN`] bytes.
    #[error(
        "the secret key file {path} holds {len} bytes, not {KEY_LEN}: it must be exactly \
         {KEY_LEN} random bytes (e.g. `head -c {KEY_LEN} /dev/urandom`); it was not replaced"
    )]
    WrongSize {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: usize,
    },
    /// A missing file could not be created.
    #[error("cannot create the secret key file {path}: {source}")]
    Create {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The operating system's random generator failed.
    #[error("cannot generate a secret key: {0}")]
    Random(String),
}

/// Reads the key in `path`, refusing a file that is unreadable or not exactly [`KEY_LEN`]
/// bytes.
pub fn read_key_file(path: &Path) -> Result<SecretKey, KeyFileError> {
    let bytes = std::fs::read(path).map_err(|source| KeyFileError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let bytes: [u8; KEY_LEN] =
        bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyFileError::WrongSize {
                path: path.to_path_buf(),
                len: bytes.len(),
            })?;
    Ok(SecretKey::from_bytes(bytes))
}

/// The key in `path`; when there is no such file, a new random key written there (mode 0600,
/// parent directories created). Returns whether it was created.
pub fn load_or_create_key_file(path: &Path) -> Result<(SecretKey, bool), KeyFileError> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => return read_key_file(path).map(|k| (k, false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(KeyFileError::Unreadable {
                path: path.to_path_buf(),
                source,
            })
        }
    }
    let create = |source| KeyFileError::Create {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(create)?;
    }
    let key = SecretKey::generate()?;
    let mut options = std::fs::OpenOptions::new();
    // `create_new`: two nodes starting at once on a shared directory never overwrite each
    // other's key; the loser reads the winner's.
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return read_key_file(path).map(|k| (k, false))
        }
        Err(e) => return Err(create(e)),
    };
    file.write_all(&key.bytes)
        .and_then(|()| file.sync_all())
        .map_err(create)?;
    Ok((key, true))
}

/// Compares without an early exit, so the time taken does not reveal how much matched
/// (authentication's token hashes, the operator token).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a sealed text did not open. Deliberately coarse: which byte was wrong is no business
/// of whoever supplied it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Not `v1.<key id>.<base64>` of a plausible length.
    #[error("not a sealed secret")]
    Malformed,
    /// Sealed under a key this node does not hold.
    #[error("sealed under key {0}, which this node does not hold")]
    UnknownKey(String),
    /// The key id matched but the text was altered, truncated, or sealed under another key.
    #[error("the sealed secret does not open under key {0}")]
    Tampered(String),
}

/// Seals `plaintext` under `key` with a fresh random nonce (two seals of one text differ).
pub fn seal(key: &SecretKey, plaintext: &str) -> String {
    let header = format!("{VERSION}.{}", key.id);
    // A random 192-bit nonce: collisions are negligible without any counter to keep.
    let nonce: [u8; NONCE_LEN] = rand::random();
    let cipher = XChaCha20Poly1305::new(&key.bytes.into());
    let payload = Payload {
        msg: plaintext.as_bytes(),
        aad: header.as_bytes(),
    };
    let ciphertext = match cipher.encrypt(&XNonce::from(nonce), payload) {
        Ok(c) => c,
        // Only a plaintext beyond the cipher's limit (~256 GiB) fails.
        Err(_) => unreachable!("XChaCha20-Poly1305 seals any secret that fits in memory"),
    };
    let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    format!("{header}.{}", B64.encode(sealed))
}

/// The key id a sealed text names, if it is shaped like one.
pub fn key_id(sealed: &str) -> Result<&str, OpenError> {
    split(sealed).map(|(id, _)| id)
}

fn split(sealed: &str) -> Result<(&str, &str), OpenError> {
    let mut parts = sealed.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(VERSION), Some(id), Some(body))
            if id.len() == 8 && id.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok((id, body))
        }
        _ => Err(OpenError::Malformed),
    }
}

/// Opens what [`seal`] produced under `key`.
pub fn open(key: &SecretKey, sealed: &str) -> Result<String, OpenError> {
    let (id, body) = split(sealed)?;
    if id != key.id {
        return Err(OpenError::UnknownKey(id.to_string()));
    }
    let bytes = B64.decode(body).map_err(|_| OpenError::Malformed)?;
    if bytes.len() < NONCE_LEN + TAG_LEN {
        return Err(OpenError::Malformed);
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| OpenError::Malformed)?;
    let header = format!("{VERSION}.{id}");
    let cipher = XChaCha20Poly1305::new(&key.bytes.into());
    let payload = Payload {
        msg: ciphertext,
        aad: header.as_bytes(),
    };
    let plain = cipher
        .decrypt(&XNonce::from(nonce), payload)
        .map_err(|_| OpenError::Tampered(id.to_string()))?;
    String::from_utf8(plain).map_err(|_| OpenError::Tampered(id.to_string()))
}

/// The current key (seals and opens) and the previous ones (open only), as a node holds them.
#[derive(Debug, Clone)]
pub struct Keyring {
    current: SecretKey,
    previous: Vec<SecretKey>,
}

impl Keyring {
    /// A keyring of `current` and the keys it replaced.
    pub fn new(current: SecretKey, previous: Vec<SecretKey>) -> Keyring {
        Keyring { current, previous }
    }

    /// `switchboard serve`'s keys: `current` loaded or created (see
    /// [`load_or_create_key_file`]), every file in `previous` read (never created: a missing
    /// old key is an operator's mistake, not something to paper over).
    pub fn load(current: &Path, previous: &[PathBuf]) -> Result<(Keyring, bool), KeyFileError> {
        let (key, created) = load_or_create_key_file(current)?;
        let previous = previous
            .iter()
            .map(|p| read_key_file(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((Keyring::new(key, previous), created))
    }

    /// The key new text is sealed under.
    pub fn current(&self) -> &SecretKey {
        &self.current
    }

    /// Seals under the current key.
    pub fn seal(&self, plaintext: &str) -> String {
        seal(&self.current, plaintext)
    }

    /// Opens text sealed under the current key or any previous one.
    pub fn open(&self, sealed: &str) -> Result<String, OpenError> {
        let id = key_id(sealed)?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
            .ok_or_else(|| OpenError::UnknownKey(id.to_string()))?;
        open(key, sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SecretKey {
        SecretKey::from_bytes([n; KEY_LEN])
    }

    #[test]
    fn round_trip() {
        let k = key(1);
        for text in ["", "0123456789abcdef0123456789abcdef", "ünïcødé ☎"] {
            let sealed = seal(&k, text);
            assert_eq!(open(&k, &sealed).as_deref(), Ok(text));
        }
        // A fresh nonce each time: the same secret never seals to the same text.
        assert_ne!(seal(&k, "token"), seal(&k, "token"));
    }

    #[test]
    fn the_sealed_text_names_its_key_and_not_its_secret() {
        let k = key(1);
        let sealed = seal(&k, "my-auth-token");
        assert_eq!(k.id().len(), 8);
        assert!(sealed.starts_with(&format!("v1.{}.", k.id())), "{sealed}");
        assert_eq!(key_id(&sealed), Ok(k.id()));
        assert!(!sealed.contains("my-auth-token"));
        assert!(!format!("{k:?}").contains("[1, 1"), "{k:?}");
    }

    #[test]
    fn a_wrong_key_fails_cleanly() {
        let sealed = seal(&key(1), "secret");
        assert_eq!(
            open(&key(2), &sealed),
            Err(OpenError::UnknownKey(key(1).id().to_string()))
        );
        // Even when the text claims the other key's id, it does not open.
        let forged = sealed.replacen(key(1).id(), key(2).id(), 1);
        assert_eq!(
            open(&key(2), &forged),
            Err(OpenError::Tampered(key(2).id().to_string()))
        );
    }

    #[test]
    fn a_flipped_byte_fails_cleanly() {
        let k = key(1);
        let sealed = seal(&k, "secret");
        let (header, body) = sealed.rsplit_once('.').unwrap_or_default();
        let bytes = B64.decode(body).unwrap_or_default();
        for i in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0x01;
            let text = format!("{header}.{}", B64.encode(&flipped));
            assert_eq!(
                open(&k, &text),
                Err(OpenError::Tampered(k.id().to_string())),
                "byte {i}"
            );
        }
        // In the text itself, including the version and key id.
        for i in 0..sealed.len() {
            let mut text = sealed.clone().into_bytes();
            text[i] = if text[i] == b'A' { b'B' } else { b'A' };
            let text = String::from_utf8(text).unwrap_or_default();
            assert!(open(&k, &text).is_err(), "char {i}: {text}");
        }
    }

    #[test]
    fn a_truncated_text_fails_cleanly() {
        let k = key(1);
        let sealed = seal(&k, "secret");
        for n in 0..sealed.len() {
            assert!(open(&k, &sealed[..n]).is_err(), "{n}");
        }
        for junk in [
            "",
            ".",
            "v1",
            "v1..",
            "v2.00000000.AAAA",
            "v1.zzzzzzzz.AAAA",
            "v1.😀.x",
        ] {
            assert!(open(&k, junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn a_keyring_opens_with_previous_keys_and_seals_with_the_current_one() {
        let old = seal(&key(1), "old secret");
        let ring = Keyring::new(key(2), vec![key(1)]);
        assert_eq!(ring.open(&old).as_deref(), Ok("old secret"));
        let new = ring.seal("new secret");
        assert_eq!(key_id(&new), Ok(key(2).id()));
        assert_eq!(ring.open(&new).as_deref(), Ok("new secret"));
        let stranger = seal(&key(3), "x");
        assert!(matches!(
            ring.open(&stranger),
            Err(OpenError::UnknownKey(_))
        ));
    }

    #[test]
    fn a_key_file_is_created_once_with_mode_0600_and_refused_when_wrong() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = dir.path().join("nested/secret.key");
        let (first, created) =
            load_or_create_key_file(&path).unwrap_or_else(|e| panic!("create: {e}"));
        assert!(created);
        let (again, created) =
            load_or_create_key_file(&path).unwrap_or_else(|e| panic!("load: {e}"));
        assert!(!created);
        assert_eq!(first.bytes, again.bytes);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or_default();
            assert_eq!(mode, 0o600);
        }
        let short = dir.path().join("short.key");
        std::fs::write(&short, b"too short\n").unwrap_or_else(|e| panic!("write: {e}"));
        let err = match load_or_create_key_file(&short) {
            Ok(_) => panic!("a 10-byte key file was accepted"),
            Err(e) => e,
        };
        assert!(
            matches!(err, KeyFileError::WrongSize { len: 10, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("short.key"), "{err}");
        // Refused, not replaced.
        assert_eq!(std::fs::read(&short).unwrap_or_default(), b"too short\n");
        let missing = dir.path().join("missing.key");
        assert!(matches!(
            Keyring::load(&path, &[missing]),
            Err(KeyFileError::Unreadable { .. })
        ));
    }
}
