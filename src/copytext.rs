//! The PostgreSQL `COPY ... TO STDOUT` text format, row by row.
//!
//! A stream is rows ended by `'\n'`; a row is fields separated by `'\t'`; a
//! field is `\N` for NULL or the value with backslash escapes. Because COPY
//! escapes every tab and newline inside values, rows and fields can be cut with
//! `memchr` alone, without decoding anything. That is what makes pass-through
//! cheap: a column without a rule is carried from input to output as the raw
//! bytes it arrived as, and only the columns that a rule rewrites are decoded
//! ([`decode_field`]) and encoded again ([`encode_field`]).
//!
//! Typical use, anonymizing column 2 of every row of a stream:
//!
//! ```
//! use doppel::copytext::{rewrite_row, FieldSplitter, RowSplitter};
//!
//! let mut rows = RowSplitter::new();
//! let mut fields = FieldSplitter::new();
//! let mut out = Vec::new();
//! for piece in [&b"1\tAlice\talice@exam"[..], b"ple.com\n2\tBob\t\\N\n"] {
//!     for row in rows.feed(piece) {
//!         let email = fields.split(row).decode(2)?;
//!         let fake = email.map(|_| b"user@example.invalid".to_vec());
//!         rewrite_row(row, &[(2, fake)], &mut out)?;
//!     }
//! }
//! rows.finish()?;
//! assert_eq!(out, b"1\tAlice\tuser@example.invalid\n2\tBob\t\\N\n");
//! # Ok::<(), doppel::copytext::CopyError>(())
//! ```
//!
//! The `\.` end-of-data line that `psql` and plain-format dumps add is not part
//! of what the server sends for `COPY TO STDOUT`, and is not treated specially.

pub mod decode;
pub mod encode;
pub mod error;
pub mod fields;
pub mod rewrite;
pub mod rows;

pub use decode::{decode_field, NULL};
pub use encode::encode_field;
pub use error::CopyError;
pub use fields::{FieldSplitter, Fields};
pub use rewrite::{rewrite_row, RowBuilder};
pub use rows::{rows, BufRows, RowSplitter, Rows};

#[cfg(test)]
mod props;
