//! The transformers that write one value drawn from a `fake` generator in the rule's locale
//! (`first_name`, `last_name`, `full_name`, `company`, `job_title`): one table of (name,
//! generator), one transformer ([`FakeText`](super::gen::FakeText)) for all of them.

use fake::faker::{company, job, name};
use fake::Fake;
use rand::RngCore;

use super::column::ColumnType;
use super::error::BuildError;
use super::gen::{fake_text, with_locale, Locale, LOCALE_PARAM};
use super::params::{ParamInfo, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::Transformer;

/// A transformer of the table: its description, its generator, and how a value too long
/// for the column is cut.
pub(crate) struct Faked {
    /// The description `list-transformers` shows.
    pub(crate) info: TransformerInfo,
    make: fn(Locale, &mut dyn RngCore) -> String,
    /// Multi-word values are cut at a word boundary, single names at any character.
    cut_words: bool,
}

/// The description of a transformer of the table.
const fn info(name: &'static str, summary: &'static str) -> TransformerInfo {
    const PARAMS: &[ParamInfo] = &[LOCALE_PARAM];
    TransformerInfo {
        name,
        summary,
        types: "text, varchar, char (cut to the length)",
        preserves_uniqueness: Uniqueness::No,
        params: PARAMS,
    }
}

impl Faked {
    /// Builds the transformer for a rule's parameters and column.
    pub(crate) fn build(
        &self,
        p: &Params<'_>,
        column: &ColumnType,
    ) -> Result<Box<dyn Transformer>, BuildError> {
        fake_text(p, column, self.make, self.cut_words)
    }
}

/// A row of the table: the transformer's name and summary, whether an over-long value is
/// cut at a word boundary, and the `fake` generator, drawn in the rule's locale.
macro_rules! faked {
    ($name:literal, $summary:literal, cut_words: $cut:literal, $generator:path) => {
        Faked {
            info: info($name, $summary),
            cut_words: $cut,
            make: |locale, rng| {
                with_locale!(locale, |l| $generator(l).fake_with_rng::<String, _>(rng))
            },
        }
    };
}

/// `first_name`: a realistic first name from the locale's list.
pub(crate) static FIRST_NAME: Faked = faked!(
    "first_name",
    "a realistic first name",
    cut_words: false,
    name::raw::FirstName
);

/// `last_name`: a realistic last name (surname) from the locale's list.
pub(crate) static LAST_NAME: Faked = faked!(
    "last_name",
    "a realistic last name",
    cut_words: false,
    name::raw::LastName
);

/// `full_name`: a realistic full name, first and last in the locale's order.
pub(crate) static FULL_NAME: Faked = faked!(
    "full_name",
    "a realistic full name, in the locale's order",
    cut_words: true,
    name::raw::Name
);

/// `company`: a realistic company name ("Hopper and Sons LLC").
pub(crate) static COMPANY: Faked = faked!(
    "company",
    "a realistic company name",
    cut_words: true,
    company::raw::CompanyName
);

/// `job_title`: a job title ("Senior Data Engineer").
pub(crate) static JOB_TITLE: Faked = faked!(
    "job_title",
    "a job title",
    cut_words: true,
    job::raw::Title
);

#[cfg(test)]
mod tests;
