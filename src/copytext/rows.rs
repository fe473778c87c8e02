//! Cutting a COPY text stream into rows.
//!
//! A row ends at the first `'\n'`: COPY escapes newlines inside values, so a
//! raw newline is always a row terminator and no decoding is needed to find it.

use memchr::{memchr, memrchr};

use super::CopyError;

/// Splits complete rows out of a COPY stream that arrives in arbitrary pieces.
///
/// Rows that lie wholly inside a fed piece are handed out as slices of that
/// piece; only a row that straddles pieces is copied, once, into an internal
/// buffer. Rows are given without their `'\n'`.
///
/// ```
/// use doppel::copytext::RowSplitter;
///
/// let mut splitter = RowSplitter::new();
/// let mut rows = Vec::new();
/// for piece in [&b"1\tal"[..], b"ice\n2\tbob\n3\t", b"carol\n"] {
///     rows.extend(splitter.feed(piece).map(<[u8]>::to_vec));
/// }
/// splitter.finish().unwrap();
/// assert_eq!(rows, [&b"1\talice"[..], b"2\tbob", b"3\tcarol"]);
/// ```
#[derive(Debug, Default)]
pub struct RowSplitter {
    /// Bytes fed but not yet handed out, always starting at a row start.
    carry: Vec<u8>,
    /// Whether `carry` may hold complete rows, which happens only when a
    /// [`Rows`] iterator is dropped before the end of its piece.
    carry_has_rows: bool,
    /// Complete rows assembled from `carry` and the head of the fed piece;
    /// a separate buffer so that it can be lent out while `carry` is refilled.
    joined: Vec<u8>,
    /// Total bytes fed, to report stream offsets.
    fed: u64,
}

impl RowSplitter {
    /// Creates a splitter at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next piece of the stream and returns the rows it completes.
    ///
    /// Rows that the returned iterator does not hand out before it is dropped
    /// are kept, and come first out of the next `feed` (an empty piece will do).
    pub fn feed<'a>(&'a mut self, piece: &'a [u8]) -> Rows<'a> {
        self.fed += piece.len() as u64;
        self.joined.clear();
        let rest = if self.carry.is_empty() {
            piece
        } else if let Some(nl) = memchr(b'\n', piece) {
            // Swapping keeps both allocations alive for the next straddling row.
            std::mem::swap(&mut self.joined, &mut self.carry);
            self.joined.extend_from_slice(&piece[..=nl]);
            self.carry_has_rows = false;
            &piece[nl + 1..]
        } else {
            self.carry.extend_from_slice(piece);
            if self.carry_has_rows {
                if let Some(last) = memrchr(b'\n', &self.carry) {
                    self.joined.extend_from_slice(&self.carry[..=last]);
                    self.carry.drain(..=last);
                }
                self.carry_has_rows = false;
            }
            &[]
        };
        Rows {
            head: &self.joined,
            rest,
            carry: &mut self.carry,
            carry_has_rows: &mut self.carry_has_rows,
        }
    }

    /// How many bytes are held for rows not yet complete (or not yet read),
    /// so that a caller can bound the memory a pathological row takes.
    pub fn buffered(&self) -> usize {
        self.carry.len()
    }

    /// Ends the stream, checking that it ended at a row boundary.
    ///
    /// # Errors
    ///
    /// [`CopyError::PartialRow`] when the last bytes fed have no `'\n'`, which
    /// means the stream was cut short, and [`CopyError::UnreadRows`] when rows
    /// kept after an early drop of [`Rows`] were never read.
    pub fn finish(self) -> Result<(), CopyError> {
        if self.carry.is_empty() {
            return Ok(());
        }
        let len = self.carry.len();
        let offset = self.fed - len as u64;
        if self.carry_has_rows && memchr(b'\n', &self.carry).is_some() {
            Err(CopyError::UnreadRows { offset, len })
        } else {
            Err(CopyError::PartialRow { offset, len })
        }
    }
}

/// The rows completed by one [`RowSplitter::feed`], without their `'\n'`.
#[derive(Debug)]
#[must_use = "rows are handed out only by iterating"]
pub struct Rows<'a> {
    /// Complete rows, each ending in `'\n'`, that began in earlier pieces.
    head: &'a [u8],
    /// What is left of the fed piece.
    rest: &'a [u8],
    carry: &'a mut Vec<u8>,
    carry_has_rows: &'a mut bool,
}

impl<'a> Iterator for Rows<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if let Some((row, tail)) = take_row(self.head) {
            self.head = tail;
            return Some(row);
        }
        match take_row(self.rest) {
            Some((row, tail)) => {
                self.rest = tail;
                Some(row)
            }
            None => {
                self.carry.extend_from_slice(self.rest);
                self.rest = &[];
                None
            }
        }
    }
}

impl Drop for Rows<'_> {
    fn drop(&mut self) {
        if self.head.is_empty() && self.rest.is_empty() {
            return;
        }
        // Unread rows go in front of any partial row already carried, so the
        // stream keeps its order; this only happens when a consumer stops early.
        let mut kept = Vec::with_capacity(self.head.len() + self.rest.len() + self.carry.len());
        kept.extend_from_slice(self.head);
        kept.extend_from_slice(self.rest);
        kept.append(self.carry);
        *self.carry = kept;
        *self.carry_has_rows = true;
    }
}

/// Iterates over the complete rows of a buffer, without their `'\n'`.
///
/// Bytes after the last `'\n'` are not a row; [`BufRows::remainder`] gives them
/// so that a caller can tell a truncated buffer from a complete one.
pub fn rows(buf: &[u8]) -> BufRows<'_> {
    BufRows { rest: buf }
}

/// Iterator returned by [`rows`].
#[derive(Debug, Clone)]
#[must_use = "rows are handed out only by iterating"]
pub struct BufRows<'a> {
    rest: &'a [u8],
}

impl<'a> BufRows<'a> {
    /// The bytes not yet handed out; once iteration has ended, the unterminated
    /// tail of the buffer (empty when the buffer ends with `'\n'`).
    pub fn remainder(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for BufRows<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (row, tail) = take_row(self.rest)?;
        self.rest = tail;
        Some(row)
    }
}

/// Splits the first complete row off `buf`.
fn take_row(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let nl = memchr(b'\n', buf)?;
    Some((&buf[..nl], &buf[nl + 1..]))
}

#[cfg(test)]
mod tests {
    use super::{rows, RowSplitter};
    use crate::copytext::CopyError;

    fn feed_all(splitter: &mut RowSplitter, piece: &[u8]) -> Vec<Vec<u8>> {
        splitter.feed(piece).map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn rows_of_a_buffer_and_its_remainder() {
        let mut it = rows(b"a\tb\n\nc\nd");
        assert_eq!(it.next(), Some(&b"a\tb"[..]));
        assert_eq!(it.next(), Some(&b""[..]));
        assert_eq!(it.next(), Some(&b"c"[..]));
        assert_eq!(it.next(), None);
        assert_eq!(it.remainder(), b"d");
        assert_eq!(rows(b"x\n").last(), Some(&b"x"[..]));
    }

    #[test]
    fn a_row_straddling_many_pieces() {
        let mut s = RowSplitter::new();
        assert!(feed_all(&mut s, b"ab").is_empty());
        assert!(feed_all(&mut s, b"cd").is_empty());
        assert_eq!(s.buffered(), 4);
        assert_eq!(
            feed_all(&mut s, b"e\nf\ng"),
            [b"abcde".to_vec(), b"f".to_vec()]
        );
        assert_eq!(feed_all(&mut s, b"\n"), [b"g".to_vec()]);
        assert_eq!(s.buffered(), 0);
        s.finish().unwrap();
    }

    #[test]
    fn finish_reports_the_partial_row_with_its_offset() {
        let mut s = RowSplitter::new();
        assert_eq!(feed_all(&mut s, b"1\n2\n3"), [b"1".to_vec(), b"2".to_vec()]);
        assert!(feed_all(&mut s, b"4").is_empty());
        assert_eq!(s.finish(), Err(CopyError::PartialRow { offset: 4, len: 2 }));
    }

    #[test]
    fn finish_reports_rows_left_unread() {
        let mut s = RowSplitter::new();
        assert!(feed_all(&mut s, b"a").is_empty());
        assert_eq!(s.feed(b"b\nc\nd\ne").next(), Some(&b"ab"[..]));
        assert_eq!(s.finish(), Err(CopyError::UnreadRows { offset: 3, len: 5 }));
    }

    #[test]
    fn an_empty_piece_flushes_rows_left_by_an_early_drop() {
        let mut s = RowSplitter::new();
        assert_eq!(s.feed(b"a\nb\nc").next(), Some(&b"a"[..]));
        assert_eq!(feed_all(&mut s, b""), [b"b".to_vec()]);
        assert_eq!(feed_all(&mut s, b"\n"), [b"c".to_vec()]);
        s.finish().unwrap();
    }
}
