//! Shared pieces of the generating transformers: uniform choices from the keyed generator,
//! shape-preserving digit and letter replacement, `fake`'s locales, ASCII folding.
//!
//! The choices here use only `next_u64` of the keyed ChaCha stream, so their values depend on
//! nothing but the key, the domain and the input — not on how a version of `rand` samples.

use rand::RngCore;

use super::error::BuildError;
use super::params::{ParamInfo, ParamKind, Params};

/// A uniform integer in `0..n` (`n > 0`). Multiply-shift: the bias, at most n / 2^64, is
/// far below anything observable, and it needs no rejection loop.
pub(crate) fn below(rng: &mut (impl RngCore + ?Sized), n: u64) -> u64 {
    ((rng.next_u64() as u128 * n as u128) >> 64) as u64
}

/// A uniform integer in `lo..=hi`.
pub(crate) fn between(rng: &mut (impl RngCore + ?Sized), lo: i64, hi: i64) -> i64 {
    let span = (hi as i128 - lo as i128 + 1) as u128;
    if span > u64::MAX as u128 {
        return rng.next_u64() as i64;
    }
    (lo as i128 + below(rng, span as u64) as i128) as i64
}

/// A uniform float in `[0, 1)`, from 53 random bits.
pub(crate) fn unit(rng: &mut (impl RngCore + ?Sized)) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// One of `items`, uniformly.
pub(crate) fn pick<'a, T>(rng: &mut (impl RngCore + ?Sized), items: &'a [T]) -> &'a T {
    &items[below(rng, items.len() as u64) as usize]
}

/// A random decimal digit.
pub(crate) fn digit(rng: &mut (impl RngCore + ?Sized)) -> char {
    (b'0' + below(rng, 10) as u8) as char
}

/// A random ASCII letter in the case of `like`.
pub(crate) fn letter_like(rng: &mut (impl RngCore + ?Sized), like: char) -> char {
    let base = if like.is_ascii_uppercase() {
        b'A'
    } else {
        b'a'
    };
    (base + below(rng, 26) as u8) as char
}

/// `input` with every ASCII digit replaced by a random digit and every ASCII letter by a
/// random letter of the same case, after the first `keep_first` of them; everything else
/// (separators, spaces, `+`) stays. The output has the input's shape and length, so it fits
/// wherever the input did and looks like the data it replaces.
pub(crate) fn reshape(rng: &mut (impl RngCore + ?Sized), input: &str, keep_first: usize) -> String {
    let mut seen = 0;
    input
        .chars()
        .map(|c| {
            if !c.is_ascii_alphanumeric() {
                return c;
            }
            seen += 1;
            if seen <= keep_first {
                c
            } else if c.is_ascii_digit() {
                digit(rng)
            } else {
                letter_like(rng, c)
            }
        })
        .collect()
}

/// Fills a pattern: `#` a digit, `^` a digit 1–9, `?` an uppercase letter, anything else as
/// written (the notation of `fake`'s formats).
pub(crate) fn fill_pattern(rng: &mut (impl RngCore + ?Sized), pattern: &str) -> String {
    pattern
        .chars()
        .map(|c| match c {
            '#' => digit(rng),
            '^' => (b'1' + below(rng, 9) as u8) as char,
            '?' => (b'A' + below(rng, 26) as u8) as char,
            other => other,
        })
        .collect()
}

/// A short lowercase base-32 tag of a keyed hash, for making generated values unique:
/// 5 bits per character.
pub(crate) fn tag(hash: &[u8; 32], chars: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut bits: u128 = u128::from_le_bytes(hash[..16].try_into().expect("16 bytes"));
    (0..chars.min(25))
        .map(|_| {
            let c = ALPHABET[(bits & 31) as usize] as char;
            bits >>= 5;
            c
        })
        .collect()
}

/// `s` in ASCII, lowercased, keeping only letters and digits (for e-mail local parts and
/// user names): "Zoë O'Brien" → "zoeobrien". Non-Latin scripts are transliterated.
pub(crate) fn ascii_slug(s: &str) -> String {
    deunicode::deunicode(s)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Cuts `s` to at most `n` characters, at the last space before the limit when there is one,
/// so that generated text does not end in half a word.
pub(crate) fn cut_at_word(s: String, n: Option<usize>) -> String {
    let Some(n) = n else { return s };
    let Some((end, _)) = s.char_indices().nth(n) else {
        return s;
    };
    let head = &s[..end];
    match head.rfind(' ') {
        Some(space) if space > 0 => head[..space].trim_end_matches([',', ' ']).to_string(),
        _ => head.to_string(),
    }
}

/// The languages `fake` has data for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Locale {
    En,
    FrFr,
    DeDe,
    ItIt,
    PtBr,
    PtPt,
    JaJp,
    ZhCn,
    ZhTw,
    ArSa,
    CyGb,
}

/// The `locale` parameter's values, as `fake` names its locales.
pub(crate) const LOCALES: &[&str] = &[
    "en", "fr_fr", "de_de", "it_it", "pt_br", "pt_pt", "ja_jp", "zh_cn", "zh_tw", "ar_sa", "cy_gb",
];

/// The `locale` parameter, shared by the transformers that use `fake`'s data.
pub(crate) const LOCALE_PARAM: ParamInfo = ParamInfo {
    name: "locale",
    kind: ParamKind::Choice(LOCALES),
    default: Some("\"en\""),
    doc: "language and country of the generated values",
};

impl Locale {
    /// Reads the `locale` parameter; `fr-FR` and `FR_FR` are accepted too.
    pub(crate) fn from_params(p: &Params<'_>) -> Result<Locale, BuildError> {
        let Some(given) = p.str("locale")? else {
            return Ok(Locale::En);
        };
        let norm = given.to_ascii_lowercase().replace('-', "_");
        Ok(match norm.as_str() {
            "en" | "en_us" | "en_gb" => Locale::En,
            "fr_fr" | "fr" => Locale::FrFr,
            "de_de" | "de" => Locale::DeDe,
            "it_it" | "it" => Locale::ItIt,
            "pt_br" => Locale::PtBr,
            "pt_pt" | "pt" => Locale::PtPt,
            "ja_jp" | "ja" => Locale::JaJp,
            "zh_cn" => Locale::ZhCn,
            "zh_tw" => Locale::ZhTw,
            "ar_sa" | "ar" => Locale::ArSa,
            "cy_gb" | "cy" => Locale::CyGb,
            _ => {
                return Err(p.bad(
                    "locale",
                    format!("`{given}` is not one of: {}", LOCALES.join(", ")),
                ))
            }
        })
    }
}

/// Evaluates `$body` with `$l` bound to `fake`'s locale value for `$locale`.
macro_rules! with_locale {
    ($locale:expr, |$l:ident| $body:expr) => {{
        use fake::locales::*;
        use $crate::anonymize::gen::Locale;
        match $locale {
            Locale::En => {
                let $l = EN;
                $body
            }
            Locale::FrFr => {
                let $l = FR_FR;
                $body
            }
            Locale::DeDe => {
                let $l = DE_DE;
                $body
            }
            Locale::ItIt => {
                let $l = IT_IT;
                $body
            }
            Locale::PtBr => {
                let $l = PT_BR;
                $body
            }
            Locale::PtPt => {
                let $l = PT_PT;
                $body
            }
            Locale::JaJp => {
                let $l = JA_JP;
                $body
            }
            Locale::ZhCn => {
                let $l = ZH_CN;
                $body
            }
            Locale::ZhTw => {
                let $l = ZH_TW;
                $body
            }
            Locale::ArSa => {
                let $l = AR_SA;
                $body
            }
            Locale::CyGb => {
                let $l = CY_GB;
                $body
            }
        }
    }};
}
pub(crate) use with_locale;

/// Lorem-ipsum words, `count` of them, space-separated.
pub(crate) fn lorem_words(rng: &mut (impl RngCore + ?Sized), count: usize) -> String {
    use fake::locales::{Data, EN};
    let words: Vec<&str> = (0..count)
        .map(|_| *pick(rng, <EN as Data>::LOREM_WORD))
        .collect();
    words.join(" ")
}

/// A lorem-ipsum sentence of `min..=max` words: capitalised, ending with a full stop.
pub(crate) fn lorem_sentence(rng: &mut (impl RngCore + ?Sized), min: usize, max: usize) -> String {
    let n = between(rng, min as i64, max as i64) as usize;
    let mut s = lorem_words(rng, n.max(1));
    if let Some(first) = s.get(..1) {
        let upper = first.to_ascii_uppercase();
        s.replace_range(..1, &upper);
    }
    s.push('.');
    s
}

/// Refuses columns that cannot hold generated text.
pub(crate) fn text_only(
    p: &Params<'_>,
    column: &super::column::ColumnType,
) -> Result<(), BuildError> {
    if super::anonymizer::is_text(column) {
        Ok(())
    } else {
        Err(p.does_not_fit(
            column,
            "it writes text; use it on text, varchar or char columns",
        ))
    }
}

/// A generated text value from a locale's data, cut to the column: the shared body of the
/// fake-value transformers (names, cities, companies, ...).
pub(crate) struct FakeText {
    /// Whose data to draw from.
    pub(crate) locale: Locale,
    /// The column, for its length limit.
    pub(crate) column: super::column::ColumnType,
    /// Draws one value.
    pub(crate) make: fn(Locale, &mut dyn RngCore) -> String,
    /// Whether an over-long value is cut at a word boundary (multi-word values) rather than
    /// at any character (names).
    pub(crate) cut_words: bool,
}

impl super::Transformer for FakeText {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut super::Ctx<'_>,
    ) -> Result<Option<String>, super::TransformError> {
        let Some(value) = value else { return Ok(None) };
        let mut rng = ctx.rng(value.as_bytes());
        let s = (self.make)(self.locale, &mut rng);
        Ok(Some(if self.cut_words {
            let cut = cut_at_word(s, self.column.max_len);
            self.column.truncate(cut)
        } else {
            self.column.truncate(s)
        }))
    }

    fn preserves_uniqueness(&self) -> bool {
        false
    }
}

/// Builds a [`FakeText`] transformer after checking the column and reading `locale`.
pub(crate) fn fake_text(
    p: &Params<'_>,
    column: &super::column::ColumnType,
    make: fn(Locale, &mut dyn RngCore) -> String,
    cut_words: bool,
) -> Result<Box<dyn super::Transformer>, BuildError> {
    text_only(p, column)?;
    Ok(Box::new(FakeText {
        locale: Locale::from_params(p)?,
        column: column.clone(),
        make,
        cut_words,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anonymize::testing::key;

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = key().rng("d", b"x");
        let mut seen = [false; 7];
        for _ in 0..1000 {
            seen[below(&mut rng, 7) as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
        for _ in 0..1000 {
            let v = between(&mut rng, -3, 3);
            assert!((-3..=3).contains(&v));
        }
    }

    #[test]
    fn reshape_keeps_shape() {
        let mut rng = key().rng("d", b"x");
        let out = reshape(&mut rng, "+44 20-7946 0958 Ab", 2);
        assert_eq!(out.len(), 19);
        assert!(out.starts_with("+44 "));
        assert_eq!(&out[6..7], "-");
        assert!(out.as_bytes()[17].is_ascii_uppercase());
        assert!(out.as_bytes()[18].is_ascii_lowercase());
    }

    #[test]
    fn slug_folds_to_ascii() {
        assert_eq!(ascii_slug("Zoë O'Brien"), "zoeobrien");
        assert!(!ascii_slug("山田").is_empty());
    }

    #[test]
    fn cut_at_word_avoids_half_words() {
        assert_eq!(
            cut_at_word("lorem ipsum dolor".into(), Some(13)),
            "lorem ipsum"
        );
        assert_eq!(cut_at_word("loremipsum".into(), Some(5)), "lorem");
        assert_eq!(cut_at_word("short".into(), Some(50)), "short");
    }

    #[test]
    fn tags_differ_by_hash() {
        let (a, b) = (key().hash("d", b"1"), key().hash("d", b"2"));
        assert_eq!(tag(&a, 8).len(), 8);
        assert_ne!(tag(&a, 8), tag(&b, 8));
    }
}
