//! The anonymization key: the one secret every transformer output depends on.
//!
//! The user's secret (from the environment variable the config names) goes through BLAKE3's
//! key-derivation mode, so that a secret of any length becomes a uniform 32-byte key and the
//! key is bound to this use only. Everything downstream — hashes, generators, permutations — is
//! a keyed BLAKE3 of (domain, input), so the same key gives the same output across tables, runs
//! and snapshots, and another key gives unrelated output.

use std::fmt;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Context string of the key derivation; changing it changes every anonymized value.
const KDF_CONTEXT: &str = "doppel anonymization key v1";
/// Label hashed under the key to make its fingerprint.
const FINGERPRINT_LABEL: &[u8] = b"doppel key fingerprint v1";

/// Shortest secret accepted. The fingerprint recorded in manifests lets anyone test guesses of
/// the secret offline, so a short, guessable one would undo the anonymization.
pub const MIN_SECRET_LEN: usize = 16;

/// The anonymization key, derived from the user's secret. `Debug` prints only the fingerprint.
#[derive(Clone)]
pub struct Key {
    bytes: [u8; 32],
}

/// Why a key could not be made. Messages name the variable, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The environment variable is not set.
    #[error("the anonymization key variable ${var} is not set; set it to a long random secret (for example the output of `openssl rand -hex 32`) and keep it out of files")]
    Missing {
        /// The variable's name.
        var: String,
    },
    /// The environment variable is not valid Unicode.
    #[error("the anonymization key variable ${var} is not valid UTF-8")]
    NotUnicode {
        /// The variable's name.
        var: String,
    },
    /// The secret is too short to resist guessing.
    #[error("the anonymization key{where_} is {len} characters long; use at least {min} (for example the output of `openssl rand -hex 32`)", where_ = var.as_deref().map(|v| format!(" in ${v}")).unwrap_or_default(), min = MIN_SECRET_LEN)]
    TooShort {
        /// The variable's name, when it came from one.
        var: Option<String>,
        /// The secret's length in characters.
        len: usize,
    },
}

impl Key {
    /// Derives the key from a secret string.
    pub fn from_secret(secret: &str) -> Result<Key, KeyError> {
        let len = secret.chars().count();
        if len < MIN_SECRET_LEN {
            return Err(KeyError::TooShort { var: None, len });
        }
        Ok(Key {
            bytes: blake3::derive_key(KDF_CONTEXT, secret.as_bytes()),
        })
    }

    /// Derives the key from the secret held by the environment variable `var`.
    pub fn from_env(var: &str) -> Result<Key, KeyError> {
        let secret = std::env::var(var).map_err(|e| match e {
            std::env::VarError::NotPresent => KeyError::Missing { var: var.into() },
            std::env::VarError::NotUnicode(_) => KeyError::NotUnicode { var: var.into() },
        })?;
        Key::from_secret(&secret).map_err(|e| match e {
            KeyError::TooShort { len, .. } => KeyError::TooShort {
                var: Some(var.into()),
                len,
            },
            other => other,
        })
    }

    /// A short identifier of the key, safe to store in manifests and print: a keyed hash of a
    /// fixed label, from which the key cannot be recovered. Two snapshots with the same
    /// fingerprint were anonymized with the same key.
    pub fn fingerprint(&self) -> String {
        let h = blake3::keyed_hash(&self.bytes, FINGERPRINT_LABEL);
        hex::encode(&h.as_bytes()[..8])
    }

    /// The keyed hash of `input` within `domain`: the root of every deterministic output.
    pub fn hash(&self, domain: &str, input: &[u8]) -> [u8; 32] {
        *self.hasher(domain, input).finalize().as_bytes()
    }

    /// Fills `out` with the keyed hash of `input` within `domain`, for outputs longer than 32
    /// bytes (BLAKE3's extendable output).
    pub fn fill(&self, domain: &str, input: &[u8], out: &mut [u8]) {
        self.hasher(domain, input).finalize_xof().fill(out);
    }

    /// A generator seeded from the keyed hash of `input` within `domain`: the same key, domain
    /// and input always give the same stream.
    pub fn rng(&self, domain: &str, input: &[u8]) -> impl rand::RngCore + use<> {
        ChaCha8Rng::from_seed(self.hash(domain, input))
    }

    /// The keyed hash of `input` within `domain` for one transformer (`scope`), so that two
    /// transformers given the same domain and input still draw unrelated values.
    pub(crate) fn hash_scoped(&self, domain: &str, scope: &str, input: &[u8]) -> [u8; 32] {
        let mut h = self.hasher(domain, &(scope.len() as u64).to_le_bytes());
        h.update(scope.as_bytes());
        h.update(input);
        *h.finalize().as_bytes()
    }

    fn hasher(&self, domain: &str, input: &[u8]) -> blake3::Hasher {
        let mut h = blake3::Hasher::new_keyed(&self.bytes);
        // The length prefix keeps ("ab", "c") and ("a", "bc") apart.
        h.update(&(domain.len() as u64).to_le_bytes());
        h.update(domain.as_bytes());
        h.update(input);
        h
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    const SECRET: &str = "correct horse battery staple";

    #[test]
    fn same_secret_same_key_other_secret_other_key() {
        let a = Key::from_secret(SECRET).unwrap();
        let b = Key::from_secret(SECRET).unwrap();
        let c = Key::from_secret("correct horse battery stapler").unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_eq!(a.hash("d", b"x"), b.hash("d", b"x"));
        assert_ne!(a.hash("d", b"x"), c.hash("d", b"x"));
        assert_eq!(a.fingerprint().len(), 16);
    }

    #[test]
    fn domain_and_input_are_framed() {
        let k = Key::from_secret(SECRET).unwrap();
        assert_ne!(k.hash("ab", b"c"), k.hash("a", b"bc"));
        assert_ne!(k.hash("d1", b"x"), k.hash("d2", b"x"));
    }

    #[test]
    fn rng_is_deterministic() {
        let k = Key::from_secret(SECRET).unwrap();
        let (mut r1, mut r2) = (k.rng("d", b"x"), k.rng("d", b"x"));
        assert_eq!(r1.next_u64(), r2.next_u64());
        assert_ne!(k.rng("d", b"x").next_u64(), k.rng("d", b"y").next_u64());
    }

    #[test]
    fn scopes_separate_transformers() {
        let k = Key::from_secret(SECRET).unwrap();
        assert_ne!(
            k.hash_scoped("d", "first_name", b"x"),
            k.hash_scoped("d", "last_name", b"x")
        );
        assert_ne!(
            k.hash_scoped("d", "ab", b"c"),
            k.hash_scoped("d", "a", b"bc")
        );
        assert_eq!(k.hash_scoped("d", "s", b"x"), k.hash_scoped("d", "s", b"x"));
    }

    #[test]
    fn fill_extends_hash() {
        let k = Key::from_secret(SECRET).unwrap();
        let mut long = [0u8; 80];
        k.fill("d", b"x", &mut long);
        assert_eq!(&long[..32], &k.hash("d", b"x"));
    }

    #[test]
    fn debug_and_errors_never_show_the_secret() {
        let k = Key::from_secret(SECRET).unwrap();
        let shown = format!("{k:?}");
        assert!(shown.contains(&k.fingerprint()));
        assert!(!shown.contains("horse"));
        let short = Key::from_secret("hunter2").unwrap_err().to_string();
        assert!(!short.contains("hunter2"), "{short}");
        assert!(short.contains("at least 16"), "{short}");
    }

    #[test]
    fn from_env_names_the_variable() {
        let e = Key::from_env("DOPPEL_TEST_KEY_THAT_IS_NEVER_SET").unwrap_err();
        assert!(e.to_string().contains("$DOPPEL_TEST_KEY_THAT_IS_NEVER_SET"));
    }
}
