//! Cutting a row into its fields without decoding them.
//!
//! COPY escapes tabs inside values, so every raw `'\t'` separates two fields;
//! a field stays raw (escaped) bytes until someone asks for its value.

use std::borrow::Cow;
use std::ops::Range;

use memchr::memchr_iter;

use super::{decode_field, CopyError};

/// Finds the fields of rows, one row at a time, reusing its position buffer
/// so that splitting allocates only when a row is wider than any before it.
///
/// ```
/// use doppel::copytext::FieldSplitter;
///
/// let mut splitter = FieldSplitter::new();
/// let fields = splitter.split(b"42\tAda\\tL.\t\\N");
/// assert_eq!(fields.field_count(), 3);
/// assert_eq!(fields.get(1), Some(&b"Ada\\tL."[..]));
/// assert_eq!(fields.decode(1).unwrap().as_deref(), Some(&b"Ada\tL."[..]));
/// assert_eq!(fields.decode(2).unwrap(), None);
/// ```
#[derive(Debug, Default, Clone)]
pub struct FieldSplitter {
    /// End offset of each field: its tab, or the row length for the last one.
    ends: Vec<usize>,
}

impl FieldSplitter {
    /// Creates a splitter with no buffer yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Finds the field boundaries of `row` (given without its `'\n'`).
    ///
    /// A row always has at least one field: an empty row is one empty field.
    pub fn split<'s, 'r>(&'s mut self, row: &'r [u8]) -> Fields<'s, 'r> {
        self.ends.clear();
        self.ends.extend(memchr_iter(b'\t', row));
        self.ends.push(row.len());
        Fields {
            row,
            ends: &self.ends,
        }
    }
}

/// The fields of one row, as raw (still escaped) byte slices of that row.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'s, 'r> {
    row: &'r [u8],
    ends: &'s [usize],
}

impl<'s, 'r> Fields<'s, 'r> {
    /// The whole row these fields were cut from.
    pub fn row(&self) -> &'r [u8] {
        self.row
    }

    /// How many fields the row has.
    pub fn field_count(&self) -> usize {
        self.ends.len()
    }

    /// The byte range of field `i` in the row, for positions in reports.
    pub fn span(&self, i: usize) -> Option<Range<usize>> {
        let end = *self.ends.get(i)?;
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1] + 1,
        };
        Some(start..end)
    }

    /// The raw bytes of field `i`, exactly as they appear in the row.
    pub fn get(&self, i: usize) -> Option<&'r [u8]> {
        self.span(i).map(|span| &self.row[span])
    }

    /// The value of field `i`: `None` for NULL, borrowed when nothing is escaped.
    ///
    /// # Errors
    ///
    /// [`CopyError::NoSuchColumn`] when the row has no field `i`, and
    /// [`CopyError::InField`] around what [`decode_field`] found wrong.
    pub fn decode(&self, i: usize) -> Result<Option<Cow<'r, [u8]>>, CopyError> {
        let span = self.span(i).ok_or(CopyError::NoSuchColumn {
            column: i,
            fields: self.field_count(),
        })?;
        let offset = span.start;
        decode_field(&self.row[span]).map_err(|error| CopyError::InField {
            field: i,
            offset,
            error: Box::new(error),
        })
    }

    /// The raw bytes of every field, in order.
    pub fn iter(&self) -> impl Iterator<Item = &'r [u8]> + use<'s, 'r> {
        let fields = *self;
        (0..fields.field_count()).filter_map(move |i| fields.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::FieldSplitter;
    use crate::copytext::CopyError;

    #[test]
    fn splits_on_raw_tabs_only() {
        let mut s = FieldSplitter::new();
        let f = s.split(b"1\ta\\tb\t\t\\N");
        assert_eq!(f.field_count(), 4);
        let raw: Vec<&[u8]> = f.iter().collect();
        assert_eq!(raw, [&b"1"[..], b"a\\tb", b"", b"\\N"]);
        assert_eq!(f.span(1), Some(2..6));
        assert_eq!(f.get(4), None);
        assert_eq!(f.row(), b"1\ta\\tb\t\t\\N");
    }

    #[test]
    fn an_empty_row_is_one_empty_field() {
        let mut s = FieldSplitter::new();
        let f = s.split(b"");
        assert_eq!(f.field_count(), 1);
        assert_eq!(f.get(0), Some(&b""[..]));
        let f = s.split(b"\t");
        assert_eq!(f.field_count(), 2);
    }

    #[test]
    fn decode_errors_name_the_field_and_its_offset() {
        let mut s = FieldSplitter::new();
        let f = s.split(b"ok\tbad\\");
        assert_eq!(
            f.decode(1),
            Err(CopyError::InField {
                field: 1,
                offset: 3,
                error: Box::new(CopyError::TrailingBackslash { offset: 3 }),
            })
        );
        assert_eq!(
            f.decode(2),
            Err(CopyError::NoSuchColumn {
                column: 2,
                fields: 2
            })
        );
    }
}
