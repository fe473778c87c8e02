//! Client-side encryption of a repository: every object but the header and the locks is
//! sealed with XChaCha20-Poly1305 under a random 24-byte nonce, with the object's name (or
//! chunk id) as associated data so that sealed objects cannot be swapped for one another.
//! Chunk ids are a keyed BLAKE3 hash, so names say nothing about contents to whoever can
//! list the bucket. The keys come from the user's secret through Argon2id with the salt in
//! the header; a sealed known text in the header tells a wrong secret from damaged data.

use std::path::PathBuf;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const NONCE_LEN: usize = 24;
const KEY_CHECK_TEXT: &[u8] = b"doppel repository key check";
const KEY_CHECK_AAD: &[u8] = b"key-check";

/// Where the user keeps the repository secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The value of this environment variable.
    Env(String),
    /// The contents of this file (a trailing newline is ignored).
    File(PathBuf),
}

impl KeySource {
    /// Reads the secret; the error names the variable or file, never the value.
    pub fn read(&self) -> Result<Vec<u8>> {
        let secret = match self {
            KeySource::Env(var) => std::env::var(var).map(String::into_bytes).map_err(|_| {
                Error::Config(format!(
                    "the repository is encrypted with the secret in ${var}, which is not set: \
                     export it (the same value that created the repository)"
                ))
            })?,
            KeySource::File(path) => {
                let mut v = std::fs::read(path).map_err(|e| {
                    Error::Config(format!(
                        "cannot read the repository key file {}: {e}",
                        path.display()
                    ))
                })?;
                while v.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    v.pop();
                }
                v
            }
        };
        if secret.len() < 8 {
            return Err(Error::Config(format!(
                "the repository secret from {} is shorter than 8 bytes: use a long random value",
                self.describe()
            )));
        }
        Ok(secret)
    }

    /// `$VAR` or the file's path, for messages.
    pub fn describe(&self) -> String {
        match self {
            KeySource::Env(v) => format!("${v}"),
            KeySource::File(p) => p.display().to_string(),
        }
    }
}

/// The encryption part of the repository header: public parameters only.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EncryptionHeader {
    /// Always `xchacha20poly1305`.
    pub cipher: String,
    /// Always `argon2id`.
    pub kdf: String,
    /// KDF salt, hex.
    pub salt: String,
    /// Argon2 memory cost in KiB.
    pub m_cost: u32,
    /// Argon2 passes.
    pub t_cost: u32,
    /// Argon2 lanes.
    pub p_cost: u32,
    /// A known text sealed with the data key, hex: opens only with the right secret.
    pub key_check: String,
}

/// Keys derived from the secret. Debug output never shows them.
#[derive(Clone)]
pub struct Keys {
    cipher: XChaCha20Poly1305,
    id_key: [u8; 32],
    fingerprint: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys({})", self.fingerprint)
    }
}

fn derive(secret: &[u8], salt: &[u8], m: u32, t: u32, p: u32) -> Result<Keys> {
    let params = argon2::Params::new(m, t, p, Some(32))
        .map_err(|e| Error::Repository(format!("bad key derivation parameters: {e}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut master = [0u8; 32];
    argon
        .hash_password_into(secret, salt, &mut master)
        .map_err(|e| Error::Repository(format!("key derivation failed: {e}")))?;
    // Separate keys per use, so that the naming key reveals nothing about the data key.
    let data_key = blake3::derive_key("doppel 2026-11 repository data key", &master);
    let id_key = blake3::derive_key("doppel 2026-11 repository chunk id key", &master);
    let fingerprint = blake3::derive_key("doppel 2026-11 repository key fingerprint", &master);
    let cipher = XChaCha20Poly1305::new_from_slice(&data_key)
        .map_err(|e| Error::Repository(format!("cannot build the cipher: {e}")))?;
    Ok(Keys {
        cipher,
        id_key,
        fingerprint: hex::encode(&fingerprint[..6]),
    })
}

impl Keys {
    /// New keys for a new repository, with the header that lets the same secret reopen it.
    pub fn create(secret: &[u8]) -> Result<(Keys, EncryptionHeader)> {
        let salt: [u8; 16] = rand::random();
        let (m, t, p) = (
            argon2::Params::DEFAULT_M_COST,
            argon2::Params::DEFAULT_T_COST,
            argon2::Params::DEFAULT_P_COST,
        );
        let keys = derive(secret, &salt, m, t, p)?;
        let header = EncryptionHeader {
            cipher: "xchacha20poly1305".into(),
            kdf: "argon2id".into(),
            salt: hex::encode(salt),
            m_cost: m,
            t_cost: t,
            p_cost: p,
            key_check: hex::encode(keys.seal(KEY_CHECK_AAD, KEY_CHECK_TEXT)),
        };
        Ok((keys, header))
    }

    /// The keys of an existing repository; a wrong secret is told apart from damage.
    pub fn open(secret: &[u8], header: &EncryptionHeader, location: &str) -> Result<Keys> {
        if header.cipher != "xchacha20poly1305" || header.kdf != "argon2id" {
            return Err(Error::Repository(format!(
                "repository {location} uses {}/{}, which this doppel does not know: upgrade doppel",
                header.cipher, header.kdf
            )));
        }
        let damaged = |what: &str| {
            Error::Repository(format!(
                "repository {location}: the encryption header's {what} is damaged"
            ))
        };
        let salt = hex::decode(&header.salt).map_err(|_| damaged("salt"))?;
        let check = hex::decode(&header.key_check).map_err(|_| damaged("key check"))?;
        let keys = derive(secret, &salt, header.m_cost, header.t_cost, header.p_cost)?;
        match keys.unseal(KEY_CHECK_AAD, &check) {
            Some(text) if text == KEY_CHECK_TEXT => Ok(keys),
            _ => Err(Error::Refused(format!(
                "wrong key for repository {location}: the secret does not open it \
                 (use the secret it was created with)"
            ))),
        }
    }

    /// A short public fingerprint of the keys, for `inspect` and messages.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The name of a chunk with this content.
    pub fn chunk_id(&self, plain: &[u8]) -> String {
        blake3::keyed_hash(&self.id_key, plain).to_hex().to_string()
    }

    /// `nonce || ciphertext || tag`, bound to `aad`.
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = XNonce::from(nonce_bytes);
        let sealed = self
            .cipher
            .encrypt(&nonce, Payload { msg: plain, aad })
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens what [`Keys::seal`] made with the same `aad`; `None` when damaged or foreign.
    pub fn unseal(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).ok()?;
        self.cipher.decrypt(&nonce, Payload { msg: body, aad }).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_opens_only_with_the_same_key_and_name() {
        let (keys, header) = Keys::create(b"correct horse battery").unwrap();
        let sealed = keys.seal(b"snapshots/a.json", b"hello");
        assert!(!sealed.windows(5).any(|w| w == b"hello"));
        assert_eq!(keys.unseal(b"snapshots/a.json", &sealed).unwrap(), b"hello");
        assert!(keys.unseal(b"snapshots/b.json", &sealed).is_none());
        let mut flipped = sealed.clone();
        flipped[30] ^= 1;
        assert!(keys.unseal(b"snapshots/a.json", &flipped).is_none());
        // Same secret reopens; another is refused as a wrong key.
        let again = Keys::open(b"correct horse battery", &header, "r").unwrap();
        assert_eq!(
            again.unseal(b"snapshots/a.json", &sealed).unwrap(),
            b"hello"
        );
        assert_eq!(again.chunk_id(b"x"), keys.chunk_id(b"x"));
        let err = Keys::open(b"wrong horse battery", &header, "r").unwrap_err();
        assert!(err.to_string().contains("wrong key"), "{err}");
        // Two seals of one text differ (random nonce); ids are keyed.
        assert_ne!(keys.seal(b"k", b"same"), keys.seal(b"k", b"same"));
        assert_ne!(keys.chunk_id(b"x"), blake3::hash(b"x").to_hex().to_string());
    }

    #[test]
    fn missing_or_short_secret_is_named_not_shown() {
        let err = KeySource::Env("DOPPEL_TEST_SURELY_UNSET_KEY".into())
            .read()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("$DOPPEL_TEST_SURELY_UNSET_KEY") && err.contains("not set"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("k");
        std::fs::write(&f, "short\n").unwrap();
        let err = KeySource::File(f.clone()).read().unwrap_err().to_string();
        assert!(
            err.contains("shorter than 8") && !err.contains("short\n"),
            "{err}"
        );
        std::fs::write(&f, "long enough secret\n").unwrap();
        assert_eq!(KeySource::File(f).read().unwrap(), b"long enough secret");
    }
}
