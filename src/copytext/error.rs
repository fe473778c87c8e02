//! Errors of the COPY text codec.

use thiserror::Error;

/// Why a COPY text stream, row or field could not be read or rewritten.
///
/// Every variant carries a position so that a report can point at the bad
/// bytes in a multi-gigabyte stream; the caller adds the table and row number.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CopyError {
    /// The stream ended in the middle of a row: its last bytes have no `'\n'`.
    #[error(
        "stream ends inside a row: the {len} bytes from byte {offset} have no terminating newline"
    )]
    PartialRow {
        /// Byte offset in the stream where the unterminated row starts.
        offset: u64,
        /// Length of the unterminated row.
        len: usize,
    },

    /// Rows were fed to a splitter but never read before it was finished.
    #[error("{len} bytes of rows from byte {offset} were fed but never read")]
    UnreadRows {
        /// Byte offset in the stream of the first unread row.
        offset: u64,
        /// Number of unread bytes.
        len: usize,
    },

    /// A field ends with a backslash that escapes nothing.
    #[error("lone backslash at the end of the field, at byte {offset} of the field")]
    TrailingBackslash {
        /// Byte offset of the backslash inside the field.
        offset: usize,
    },

    /// A field of a row could not be decoded; `error` says why.
    #[error("field {field} (byte {offset} of the row): {error}")]
    InField {
        /// Zero-based index of the field in its row.
        field: usize,
        /// Byte offset in the row where the field starts.
        offset: usize,
        /// What is wrong with the field. Not a `source`: the message already
        /// includes it, and a chain printer would repeat it.
        error: Box<CopyError>,
    },

    /// A column index is past the last field of the row.
    #[error("column {column} does not exist: the row has {fields} fields")]
    NoSuchColumn {
        /// The zero-based column index that was asked for.
        column: usize,
        /// How many fields the row has.
        fields: usize,
    },

    /// Replacement values were not given in strictly increasing column order.
    #[error("changes must be in strictly increasing column order: column {column} comes after column {previous}")]
    UnorderedChanges {
        /// The column of the previous change.
        previous: usize,
        /// The column that came after it.
        column: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::CopyError;

    #[test]
    fn messages_carry_positions() {
        let e = CopyError::PartialRow {
            offset: 1234,
            len: 7,
        };
        assert_eq!(
            e.to_string(),
            "stream ends inside a row: the 7 bytes from byte 1234 have no terminating newline"
        );
        let e = CopyError::InField {
            field: 3,
            offset: 17,
            error: Box::new(CopyError::TrailingBackslash { offset: 4 }),
        };
        assert_eq!(
            e.to_string(),
            "field 3 (byte 17 of the row): lone backslash at the end of the field, at byte 4 of the field"
        );
        let e = CopyError::NoSuchColumn {
            column: 9,
            fields: 8,
        };
        assert_eq!(
            e.to_string(),
            "column 9 does not exist: the row has 8 fields"
        );
    }
}
