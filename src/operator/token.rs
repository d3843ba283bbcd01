//! The operator token: the credential of the operator API (`/operator/v1/…`), of the
//! operator's own and never an account's.
//!
//! It lives in a file outside the log (`--operator-token-file`, default
//! `DATA_DIR/operator.token`), which a first `serve` creates with one random token, mode
//! 0600. Each non-empty line that does not start with `#` is a token the API takes; the
//! first is the one the command line sends. That is the rotation: put the new token on the
//! first line on every node, switch clients over, delete the old line. The server reads the
//! file again on every operator request (they are rare), so neither step needs a restart.
//!
//! Invariants: a token is `sbop_` and at least 32 characters of `[A-Za-z0-9_-]`, so it can
//! never equal an account's auth token (32 hex digits), and the account API never looks at
//! this file; the token never enters the log, a response or a log line (only its id, the
//! first 8 hex digits of its SHA-256); a presented token is compared with every token in the
//! file, in constant time, without an early exit; a file that cannot be read or holds no
//! valid token is refused with its path in the error, never replaced.

use crate::secrets::constant_time_eq;
use rand::TryRngCore;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Every operator token starts with this.
pub const PREFIX: &str = "sbop_";
/// Fewest characters after [`PREFIX`].
const MIN_SECRET_LEN: usize = 32;
/// The user name the operator API takes with the token in HTTP Basic.
pub const USER: &str = "operator";

/// Why a token file was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// The file cannot be read (missing, permissions).
    #[error("cannot read the operator token file {path}: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not a token.
    #[error(
        "line {line} of the operator token file {path} is not an operator token: each \
         non-comment line must be `{PREFIX}` and at least {MIN_SECRET_LEN} characters of \
         A-Z a-z 0-9 _ - (e.g. `echo {PREFIX}$(openssl rand -hex 32)`); it was not replaced"
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
    },
    /// No token in it.
    #[error("the operator token file {path} holds no token; it was not replaced")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A missing file could not be created.
    #[error("cannot create the operator token file {path}: {source}")]
    Create {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The operating system's random generator failed.
    #[error("cannot generate an operator token: {0}")]
    Random(String),
}

/// Whether `token` has the operator token's shape.
pub fn well_formed(token: &str) -> bool {
    token.strip_prefix(PREFIX).is_some_and(|secret| {
        secret.len() >= MIN_SECRET_LEN
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

/// A token's id: the first 8 hex digits of its SHA-256 (names it, reveals nothing usable).
pub fn id(token: &str) -> String {
    hex::encode(&Sha256::digest(token.as_bytes())[..4])
}

/// A new random token: [`PREFIX`] and 64 hex digits (256 bits).
pub fn generate() -> Result<String, TokenFileError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| TokenFileError::Random(e.to_string()))?;
    Ok(format!("{PREFIX}{}", hex::encode(bytes)))
}

/// The tokens in `path`, first (current) first.
pub fn read(path: &Path) -> Result<Vec<String>, TokenFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let mut tokens = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !well_formed(line) {
            return Err(TokenFileError::Malformed {
                path: path.to_path_buf(),
                line: i + 1,
            });
        }
        tokens.push(line.to_string());
    }
    if tokens.is_empty() {
        return Err(TokenFileError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(tokens)
}

/// The token the command line sends: the file's first.
pub fn current(path: &Path) -> Result<String, TokenFileError> {
    let mut tokens = read(path)?;
    Ok(tokens.swap_remove(0))
}

/// The tokens the operator API takes, read from their file on every check.
#[derive(Debug, Clone)]
pub struct OperatorTokens {
    path: PathBuf,
}

impl OperatorTokens {
    /// The file at `path`, checked now; when there is no such file, one written there with a
    /// new token (mode 0600, parent directories created). Returns the current token's id and
    /// whether the file was created.
    pub fn load_or_create(path: &Path) -> Result<(OperatorTokens, String, bool), TokenFileError> {
        let created = match std::fs::symlink_metadata(path) {
            Ok(_) => false,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path)?,
            Err(source) => {
                return Err(TokenFileError::Unreadable {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let current = current(path)?;
        let tokens = OperatorTokens {
            path: path.to_path_buf(),
        };
        Ok((tokens, id(&current), created))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether `presented` is one of the file's tokens. Each is compared by SHA-256, in
    /// constant time and with no early exit, so timing tells nothing of a token or of which
    /// one matched.
    pub fn accepts(&self, presented: &str) -> Result<bool, TokenFileError> {
        let tokens = read(&self.path)?;
        let presented = Sha256::digest(presented.as_bytes());
        Ok(tokens.iter().fold(false, |matched, token| {
            constant_time_eq(&Sha256::digest(token.as_bytes()), &presented) | matched
        }))
    }
}

/// Writes a new token file at `path` unless another process just did; returns whether this
/// one wrote it.
fn create(path: &Path) -> Result<bool, TokenFileError> {
    let failed = |source| TokenFileError::Create {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    let token = generate()?;
    let mut options = std::fs::OpenOptions::new();
    // `create_new`: nodes starting at once on a shared directory never overwrite each other's
    // token; the loser reads the winner's.
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(failed(e)),
    };
    file.write_all(format!("{token}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(failed)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sb-operator-{tag}-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("dir");
        dir.join("operator.token")
    }

    #[test]
    fn a_first_start_creates_a_private_token_file_and_later_starts_keep_it() {
        let path = temp("create");
        let (tokens, id1, created) = OperatorTokens::load_or_create(&path).expect("created");
        assert!(created);
        let token = current(&path).expect("current");
        assert!(well_formed(&token), "{token}");
        assert_eq!(id(&token), id1);
        assert!(tokens.accepts(&token).expect("read"));
        assert!(!tokens.accepts("sbop_wrong").expect("read"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (_, id2, created) = OperatorTokens::load_or_create(&path).expect("loaded");
        assert!(!created);
        assert_eq!(id1, id2, "the same token");
        let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
    }

    #[test]
    fn every_line_is_accepted_the_first_is_current_and_a_bad_file_is_refused_not_replaced() {
        let path = temp("rotate");
        let (new, old) = (generate().expect("new"), generate().expect("old"));
        std::fs::write(&path, format!("# rotated today\n{new}\n\n{old}\n")).expect("write");
        let (tokens, current_id, created) = OperatorTokens::load_or_create(&path).expect("ok");
        assert!(!created);
        assert_eq!(current_id, id(&new));
        assert_eq!(current(&path).expect("current"), new);
        assert!(tokens.accepts(&new).expect("read") && tokens.accepts(&old).expect("read"));
        // Rotation without a restart: the old line deleted, the old token refused at once.
        std::fs::write(&path, format!("{new}\n")).expect("write");
        assert!(!tokens.accepts(&old).expect("read"));
        // An account's auth token (32 hex digits) is never an operator token.
        std::fs::write(&path, format!("{:032x}\n", 7u128)).expect("write");
        assert!(matches!(
            OperatorTokens::load_or_create(&path),
            Err(TokenFileError::Malformed { line: 1, .. })
        ));
        std::fs::write(&path, "# nothing\n").expect("write");
        assert!(matches!(
            OperatorTokens::load_or_create(&path),
            Err(TokenFileError::Empty { .. })
        ));
        assert_eq!(std::fs::read_to_string(&path).expect("kept"), "# nothing\n");
        let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
    }

    #[test]
    fn an_account_auth_token_never_has_the_operator_shape() {
        for _ in 0..100 {
            let (token, _) = crate::commands::new_auth_token();
            assert!(!well_formed(&token), "{token}");
        }
        assert!(well_formed(&generate().expect("token")));
        assert!(!well_formed("sbop_short"));
        assert!(!well_formed(&format!("sbop_{}!", "a".repeat(40))));
    }
}
