//! `password_hash`: every password hash becomes the hash of one known password, so that QA can
//! log in as any user of an anonymized copy — and nobody can recover or reuse the real ones.
//!
//! The built-in hashes are of the password `doppel-qa`, made once with reference tools and
//! checked to verify:
//! - bcrypt: `crypt(3)` of libxcrypt (Python's `crypt.crypt("doppel-qa", crypt.mksalt(METHOD_BLOWFISH, rounds=1024))`);
//! - argon2id: the reference `argon2` CLI, `echo -n doppel-qa | argon2 doppelqasalt2024 -id -t 2 -m 16 -p 1 -l 32 -e`;
//! - Django's pbkdf2_sha256: `hashlib.pbkdf2_hmac("sha256", b"doppel-qa", b"doppelqasalt2024", 600000)`, base64.
//!
//! Any other scheme: compute a hash of a password of your choice and give it as `hash`.

use super::anonymizer::is_text;
use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

/// The password the built-in hashes of `password_hash` verify: what QA types to log in.
pub const KNOWN_PASSWORD: &str = "doppel-qa";

const SCHEMES: &[(&str, &str)] = &[
    ("bcrypt", "$2b$10$TnEBDcLPO0mIqvqxbkAIPOdRavtJzNd4r6hszYHToA24EaYQZMJGe"),
    (
        "argon2id",
        "$argon2id$v=19$m=65536,t=2,p=1$ZG9wcGVscWFzYWx0MjAyNA$fLsrTAFdFis6xba9IqBqSY67TPl75fzH2ozeI2+0H2I",
    ),
    (
        "pbkdf2_sha256",
        "pbkdf2_sha256$600000$doppelqasalt2024$b4BiMjQSEZKihYeIpRBdO48THOFhDcWcUl+2wNCYgmM=",
    ),
];

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "password_hash",
    summary: "a fixed password hash, by default of the known password \"doppel-qa\", so QA can log in as anyone",
    types: "text, varchar, char",
    preserves_uniqueness: Uniqueness::No,
    params: &[
        ParamInfo {
            name: "scheme",
            kind: ParamKind::Choice(&["bcrypt", "argon2id", "pbkdf2_sha256"]),
            default: Some("\"bcrypt\""),
            doc: "format of the built-in hash of \"doppel-qa\": bcrypt ($2b$), argon2id (PHC string), pbkdf2_sha256 (Django)",
        },
        ParamInfo {
            name: "hash",
            kind: ParamKind::String,
            default: None,
            doc: "your own hash to write instead (of a password your application accepts)",
        },
    ],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    if !is_text(column) {
        return Err(p.does_not_fit(
            column,
            "password hashes are text; use it on text or varchar columns",
        ));
    }
    let scheme = p.choice("scheme", &["bcrypt", "argon2id", "pbkdf2_sha256"], "bcrypt")?;
    let hash = match p.str("hash")? {
        Some(_) if p.raw("scheme").is_some() => {
            return Err(p.bad("hash", "give either `hash` or `scheme`, not both"))
        }
        Some("") => return Err(p.bad("hash", "must not be empty")),
        Some(h) => h.to_string(),
        None => SCHEMES
            .iter()
            .find(|(s, _)| *s == scheme)
            .expect("listed scheme")
            .1
            .to_string(),
    };
    if !column.fits_len(hash.chars().count()) {
        return Err(p.does_not_fit(
            column,
            format!("the hash has {} characters", hash.chars().count()),
        ));
    }
    Ok(Box::new(PasswordHash { hash }))
}

struct PasswordHash {
    hash: String,
}

impl Transformer for PasswordHash {
    fn transform(
        &self,
        value: Option<&str>,
        _: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        // A NULL hash usually means "cannot log in with a password": keep it so.
        Ok(value.map(|_| self.hash.clone()))
    }

    fn preserves_uniqueness(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::KNOWN_PASSWORD;
    use crate::anonymize::testing::*;
    use crate::anonymize::{BuildError, ColumnType};

    #[test]
    fn writes_the_known_hash() {
        let col = ColumnType::parse("varchar(255)").unwrap();
        let t = build("password_hash", "", &col);
        check_common(t.as_ref(), &col, SAMPLES, Keyed::No);
        let h = out(t.as_ref(), "$2b$12$somebodysrealhash");
        assert!(h.starts_with("$2b$10$") && h.len() == 60, "{h}");
        assert_eq!(KNOWN_PASSWORD, "doppel-qa");
        let a = out(
            build("password_hash", "scheme = \"argon2id\"", &col).as_ref(),
            "x",
        );
        assert!(a.starts_with("$argon2id$v=19$"));
        let d = out(
            build("password_hash", "scheme = \"pbkdf2_sha256\"", &col).as_ref(),
            "x",
        );
        assert!(d.starts_with("pbkdf2_sha256$600000$"));
        let own = build("password_hash", "hash = \"{SSHA}abc\"", &col);
        assert_eq!(out(own.as_ref(), "x"), "{SSHA}abc");
    }

    #[test]
    fn refuses_what_cannot_fit() {
        let e = build_err(
            "password_hash",
            "",
            &ColumnType::parse("varchar(40)").unwrap(),
        );
        assert!(matches!(e, BuildError::DoesNotFit { .. }), "{e}");
        let e = build_err(
            "password_hash",
            "hash = \"x\"\nscheme = \"bcrypt\"",
            &ColumnType::text(),
        );
        assert!(matches!(e, BuildError::BadValue { .. }), "{e}");
    }
}
