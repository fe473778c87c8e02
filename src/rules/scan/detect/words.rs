//! The word lists behind the fuzzier tests (names, cities, streets), kept as data files in
//! `words/` so that they can be extended without touching code. Each file has one entry per
//! line, folded to lower-case ASCII; lines starting with `#` are comments. A list is read
//! once, on first use.

use std::sync::LazyLock;

/// A list read from its file on first use.
type Words = LazyLock<Vec<&'static str>>;

/// The entries of a word-list file: its non-empty lines that are not comments.
fn entries(text: &'static str) -> Vec<&'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// Street words (`street`, `rue`, `calle`), sorted for binary search.
pub(super) static STREET_WORDS: Words =
    LazyLock::new(|| entries(include_str!("words/street_words.txt")));

/// Street suffixes glued to the street's name: `Friedrichstraße`, `Kalverstraat`.
pub(super) static STREET_SUFFIXES: Words =
    LazyLock::new(|| entries(include_str!("words/street_suffixes.txt")));

/// Common given names from many countries, sorted for binary search.
pub(super) static GIVEN_NAMES: Words =
    LazyLock::new(|| entries(include_str!("words/given_names.txt")));

/// Common surnames from many countries, sorted for binary search.
pub(super) static SURNAMES: Words = LazyLock::new(|| entries(include_str!("words/surnames.txt")));

/// Major cities in English and local spellings, sorted for binary search.
pub(super) static CITIES: Words = LazyLock::new(|| entries(include_str!("words/cities.txt")));

/// Particles inside names (`de Vries`, `van der Berg`); `O'Connor` is one word.
pub(super) static PARTICLES: Words = LazyLock::new(|| entries(include_str!("words/particles.txt")));
