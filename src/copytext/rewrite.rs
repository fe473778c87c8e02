//! Writing rows: building them field by field, or rewriting a few columns of an
//! existing row while every other field is copied as raw bytes.

use memchr::memchr;

use super::{encode_field, CopyError};

/// Writes one row, field by field, at the end of an output buffer.
///
/// A row that is dropped before [`RowBuilder::finish`] is removed from the
/// buffer again, so an error halfway through a row never leaves a torn row in
/// the stream.
///
/// ```
/// use doppel::copytext::RowBuilder;
///
/// let mut out = Vec::new();
/// let mut row = RowBuilder::new(&mut out);
/// row.raw(b"42").value(Some(b"a\tb")).value(None);
/// row.finish();
/// assert_eq!(out, b"42\ta\\tb\t\\N\n");
/// ```
#[derive(Debug)]
pub struct RowBuilder<'o> {
    out: &'o mut Vec<u8>,
    /// Length of `out` before this row, to undo a row left unfinished.
    start: usize,
    fields: usize,
    finished: bool,
}

impl<'o> RowBuilder<'o> {
    /// Starts a row at the end of `out`.
    pub fn new(out: &'o mut Vec<u8>) -> Self {
        let start = out.len();
        Self {
            out,
            start,
            fields: 0,
            finished: false,
        }
    }

    /// Appends a field that is already in COPY text form, such as a field cut
    /// from another row; it is copied as is, never decoded.
    pub fn raw(&mut self, raw: &[u8]) -> &mut Self {
        self.separate();
        self.out.extend_from_slice(raw);
        self
    }

    /// Appends a value, escaping it (`None` is NULL).
    pub fn value(&mut self, value: Option<&[u8]>) -> &mut Self {
        self.separate();
        encode_field(value, self.out);
        self
    }

    /// How many fields have been appended so far.
    pub fn field_count(&self) -> usize {
        self.fields
    }

    /// Ends the row with its `'\n'` and returns how many fields it has.
    pub fn finish(mut self) -> usize {
        self.out.push(b'\n');
        self.finished = true;
        self.fields
    }

    fn separate(&mut self) {
        if self.fields > 0 {
            self.out.push(b'\t');
        }
        self.fields += 1;
    }
}

impl Drop for RowBuilder<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.out.truncate(self.start);
        }
    }
}

/// Appends `row` to `out` with some columns replaced, then its `'\n'`.
///
/// `changes` pairs a zero-based column index with its new value (`None` for
/// NULL), in strictly increasing column order. Fields between changed columns
/// are copied in bulk as raw bytes, never decoded, and the row is scanned only
/// up to the last changed column.
///
/// # Errors
///
/// [`CopyError::UnorderedChanges`] when the columns are not strictly
/// increasing, and [`CopyError::NoSuchColumn`] when the row is too short; in
/// both cases nothing is appended to `out`.
///
/// ```
/// use doppel::copytext::rewrite_row;
///
/// let mut out = Vec::new();
/// let changes = [(1, Some(&b"Anon\tymous"[..])), (2, None)];
/// rewrite_row(b"7\tAlice\talice@example.com\tt", &changes, &mut out).unwrap();
/// assert_eq!(out, b"7\tAnon\\tymous\t\\N\tt\n");
/// ```
pub fn rewrite_row<V: AsRef<[u8]>>(
    row: &[u8],
    changes: &[(usize, Option<V>)],
    out: &mut Vec<u8>,
) -> Result<(), CopyError> {
    let before = out.len();
    match splice(row, changes, out) {
        Ok(()) => {
            out.push(b'\n');
            Ok(())
        }
        Err(error) => {
            out.truncate(before);
            Err(error)
        }
    }
}

fn splice<V: AsRef<[u8]>>(
    row: &[u8],
    changes: &[(usize, Option<V>)],
    out: &mut Vec<u8>,
) -> Result<(), CopyError> {
    // `start` is where field number `field` begins; `copied` is how much of
    // `row` is already in `out` (or replaced there).
    let (mut field, mut start, mut copied) = (0, 0, 0);
    let mut previous = None;
    for (column, value) in changes {
        let column = *column;
        if let Some(previous) = previous.filter(|&p| column <= p) {
            return Err(CopyError::UnorderedChanges { previous, column });
        }
        previous = Some(column);
        while field < column {
            let Some(tab) = memchr(b'\t', &row[start..]) else {
                return Err(CopyError::NoSuchColumn {
                    column,
                    fields: field + 1,
                });
            };
            start += tab + 1;
            field += 1;
        }
        let end = memchr(b'\t', &row[start..]).map_or(row.len(), |tab| start + tab);
        out.extend_from_slice(&row[copied..start]);
        encode_field(value.as_ref().map(AsRef::as_ref), out);
        copied = end;
        if end < row.len() {
            start = end + 1;
            field += 1;
        } else {
            // Past the last field: the next change, if any, finds no tab.
            start = end;
        }
    }
    out.extend_from_slice(&row[copied..]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{rewrite_row, RowBuilder};
    use crate::copytext::CopyError;

    fn rewritten(row: &[u8], changes: &[(usize, Option<&[u8]>)]) -> Result<Vec<u8>, CopyError> {
        let mut out = b"prev\n".to_vec();
        rewrite_row(row, changes, &mut out)?;
        Ok(out.split_off(5))
    }

    #[test]
    fn no_changes_copies_the_row() {
        assert_eq!(
            rewritten(b"1\ta\\tb\t\\N", &[]).unwrap(),
            b"1\ta\\tb\t\\N\n"
        );
        assert_eq!(rewritten(b"", &[]).unwrap(), b"\n");
    }

    #[test]
    fn replaces_first_middle_and_last_columns() {
        let row = b"1\ttwo\tthree\t4";
        assert_eq!(
            rewritten(row, &[(0, Some(b"x"))]).unwrap(),
            b"x\ttwo\tthree\t4\n"
        );
        assert_eq!(rewritten(row, &[(2, None)]).unwrap(), b"1\ttwo\t\\N\t4\n");
        assert_eq!(
            rewritten(row, &[(3, Some(b"\n"))]).unwrap(),
            b"1\ttwo\tthree\t\\n\n"
        );
        assert_eq!(
            rewritten(row, &[(1, Some(b"")), (2, Some(b"")), (3, Some(b"\\"))]).unwrap(),
            b"1\t\t\t\\\\\n"
        );
        assert_eq!(rewritten(b"", &[(0, Some(b"v"))]).unwrap(), b"v\n");
    }

    #[test]
    fn rejects_missing_columns_and_leaves_out_untouched() {
        let mut out = b"prev\n".to_vec();
        let err = rewrite_row(b"a\tb", &[(0, Some(b"x")), (2, Some(b"y"))], &mut out);
        assert_eq!(
            err,
            Err(CopyError::NoSuchColumn {
                column: 2,
                fields: 2
            })
        );
        assert_eq!(out, b"prev\n");
        assert_eq!(
            rewritten(b"a\tb", &[(1, Some(b"x")), (2, None)]),
            Err(CopyError::NoSuchColumn {
                column: 2,
                fields: 2
            })
        );
    }

    #[test]
    fn rejects_unordered_changes() {
        assert_eq!(
            rewritten(b"a\tb\tc", &[(1, None), (1, None)]),
            Err(CopyError::UnorderedChanges {
                previous: 1,
                column: 1
            })
        );
        assert_eq!(
            rewritten(b"a\tb\tc", &[(2, None), (0, None)]),
            Err(CopyError::UnorderedChanges {
                previous: 2,
                column: 0
            })
        );
    }

    #[test]
    fn accepts_owned_values() {
        let mut out = Vec::new();
        let changes = vec![(1, Some(b"new".to_vec()))];
        rewrite_row(b"a\tb", &changes, &mut out).unwrap();
        assert_eq!(out, b"a\tnew\n");
    }

    #[test]
    fn builder_writes_rows_and_undoes_unfinished_ones() {
        let mut out = Vec::new();
        let mut row = RowBuilder::new(&mut out);
        row.value(Some(b"\\N")).raw(b"\\N");
        assert_eq!(row.field_count(), 2);
        assert_eq!(row.finish(), 2);
        let mut torn = RowBuilder::new(&mut out);
        torn.value(Some(b"half"));
        drop(torn);
        assert_eq!(out, b"\\\\N\t\\N\n");
        assert_eq!(RowBuilder::new(&mut out).finish(), 0);
        assert_eq!(out, b"\\\\N\t\\N\n\n");
    }
}
