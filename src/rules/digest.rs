//! The rules digest recorded in an anonymized snapshot's manifest: BLAKE3 over a canonical
//! encoding of what the rules mean, so that it changes when and only when the anonymization
//! changes — not with file names, file order, key order, comments, TOML style (inline vs.
//! dotted tables, quoting) or the spacing and case of `when` clauses.

use super::model::{ColumnRule, OnError, RuleSet};

/// Written first, so that a change of the encoding itself changes every digest. v2: rules
/// keep empty values unless they say `empty = "transform"`, so the same rules written for v1
/// anonymize differently.
const DOMAIN_TAG: &str = "doppel rules digest v2";

impl RuleSet {
    /// A stable BLAKE3 digest of the normalized rules, as 64 lowercase hex digits.
    pub fn digest(&self) -> String {
        let mut h = Canonical(blake3::Hasher::new());
        h.str(DOMAIN_TAG);
        h.u64(u64::from(super::FORMAT_VERSION));
        // BTreeMaps: tables and columns are already in name order.
        h.u64(self.tables.len() as u64);
        for t in self.tables.values() {
            h.str(&t.table.schema);
            h.str(&t.table.name);
            h.str(t.decision.as_str());
            h.u64(t.columns.len() as u64);
            for rule in t.columns.values() {
                h.rule(rule);
            }
        }
        h.0.finalize().to_hex().to_string()
    }
}

/// A hasher fed with self-delimiting items: every string is length-prefixed and every
/// variant tagged, so that no two different rule sets encode to the same bytes.
struct Canonical(blake3::Hasher);

impl Canonical {
    fn u64(&mut self, v: u64) {
        self.0.update(&v.to_le_bytes());
    }

    fn tag(&mut self, t: u8) {
        self.0.update(&[t]);
    }

    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.0.update(s.as_bytes());
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.tag(0),
            Some(s) => {
                self.tag(1);
                self.str(s);
            }
        }
    }

    fn rule(&mut self, rule: &ColumnRule) {
        self.str(&rule.column);
        self.str(&rule.transformer);
        self.table(&rule.params);
        self.opt_str(rule.domain.as_deref());
        self.opt_str(rule.when.as_ref().map(|w| w.to_string()).as_deref());
        match &rule.on_error {
            OnError::Fail => self.tag(0),
            OnError::Null => self.tag(1),
            OnError::Fallback(v) => {
                self.tag(2);
                self.str(v);
            }
        }
        self.str(rule.empty.as_str());
    }

    fn table(&mut self, t: &toml::Table) {
        // Sorted explicitly: with `preserve_order` enabled anywhere in the build, a
        // toml::Table iterates in file order.
        let mut keys: Vec<&String> = t.keys().collect();
        keys.sort();
        self.u64(keys.len() as u64);
        for k in keys {
            self.str(k);
            self.value(&t[k.as_str()]);
        }
    }

    fn value(&mut self, v: &toml::Value) {
        match v {
            toml::Value::String(s) => {
                self.tag(1);
                self.str(s);
            }
            toml::Value::Integer(i) => {
                self.tag(2);
                self.0.update(&i.to_le_bytes());
            }
            toml::Value::Float(f) => {
                self.tag(3);
                // One NaN, one zero: `nan` and `-nan`, `0.0` and `-0.0` mean the same here.
                let bits = if f.is_nan() {
                    f64::NAN.to_bits()
                } else if *f == 0.0 {
                    0
                } else {
                    f.to_bits()
                };
                self.u64(bits);
            }
            toml::Value::Boolean(b) => {
                self.tag(4);
                self.tag(u8::from(*b));
            }
            toml::Value::Datetime(d) => {
                self.tag(5);
                self.str(&d.to_string());
            }
            toml::Value::Array(items) => {
                self.tag(6);
                self.u64(items.len() as u64);
                for item in items {
                    self.value(item);
                }
            }
            toml::Value::Table(t) => {
                self.tag(7);
                self.table(t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn digest_of(files: &[(&str, &str)]) -> String {
        let sources: Vec<(PathBuf, String)> = files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect();
        RuleSet::parse_sources(&sources)
            .unwrap_or_else(|e| panic!("{e}"))
            .digest()
    }

    const BASE: &str = r#"version = 1
[tables."public.customers".columns]
id = "keep"
email = { transformer = "email", domain = "email", on_error = "null" }
notes = { transformer = "null", when = "country = 'FR' AND NOT is_admin" }
age = { transformer = "noise", ratio = 0.1, bounds = [18, 99], opts = { a = 1, b = "x" } }
city = { transformer = "city", on_error = { fallback = "Springfield" } }

[tables."public.audit_log"]
decision = "skip"
"#;

    /// The same rules, written differently and split over two files in another order.
    const RESTYLED_A: &str = r#"
# audit first, and with a comment
version = 1

[tables.'public.audit_log']
decision = 'skip'
"#;
    const RESTYLED_B: &str = r#"version = 1

[tables."public.customers"]
decision = "anonymize"

[tables."public.customers".columns.age]
opts.b = "x"
opts.a = 1
bounds = [ 18,
           99 ]
transformer = "noise"
ratio = 1e-1

[tables."public.customers".columns]
city = { on_error = { fallback = 'Springfield' }, transformer = "city" }
notes = { when = "(Country='FR') and not \"is_admin\"", transformer = "null" }
email.transformer = "email"
email.on_error = "null"
email.domain = "email"
id = { transformer = "keep" }
"#;

    #[test]
    fn the_digest_ignores_files_order_and_style() {
        let base = digest_of(&[("rules/shop.toml", BASE)]);
        assert_eq!(base.len(), 64);
        let restyled = digest_of(&[("rules/z.toml", RESTYLED_B), ("rules/a.toml", RESTYLED_A)]);
        assert_eq!(base, restyled);
    }

    #[test]
    fn the_digest_changes_with_the_meaning() {
        let base = digest_of(&[("rules/shop.toml", BASE)]);
        let changes: &[(&str, &str)] = &[
            ("\"email\", domain", "\"username\", domain"),
            ("domain = \"email\"", "domain = \"mail\""),
            ("domain = \"email\", ", ""),
            ("on_error = \"null\"", "on_error = \"fail\""),
            (
                "on_error = \"null\"",
                "on_error = \"null\", empty = \"transform\"",
            ),
            ("\"Springfield\"", "\"Shelbyville\""),
            ("'FR'", "'DE'"),
            (", when = \"country = 'FR' AND NOT is_admin\"", ""),
            ("ratio = 0.1", "ratio = 0.2"),
            ("bounds = [18, 99]", "bounds = [99, 18]"),
            ("bounds = [18, 99]", "bounds = [18.0, 99]"),
            ("a = 1, b", "a = \"1\", b"),
            ("decision = \"skip\"", "decision = \"schema-only\""),
            ("public.audit_log", "public.audit_logs"),
            ("id = \"keep\"", "ID = \"keep\""),
            ("id = \"keep\"\n", ""),
        ];
        let mut seen = std::collections::BTreeSet::from([base.clone()]);
        for (old, new) in changes {
            assert!(BASE.contains(old), "{old}");
            let d = digest_of(&[("rules/shop.toml", &BASE.replacen(old, new, 1))]);
            assert!(seen.insert(d), "{old} -> {new} did not change the digest");
        }
    }

    #[test]
    fn the_digest_is_stable_across_versions() {
        // A change here changes the digest of every anonymized snapshot already taken: only
        // with a new DOMAIN_TAG, on purpose.
        assert_eq!(
            RuleSet::default().digest(),
            blake3::hash(
                &[
                    &(DOMAIN_TAG.len() as u64).to_le_bytes()[..],
                    DOMAIN_TAG.as_bytes(),
                    &1u64.to_le_bytes(),
                    &0u64.to_le_bytes(),
                ]
                .concat()
            )
            .to_hex()
            .to_string()
        );
        assert_eq!(
            digest_of(&[("rules/shop.toml", BASE)]),
            "665878b26600430bad0501952eccf710e073ff4099a0e2f2a8b70b5ec0741de6"
        );
    }
}
