//! Large tables in parts: a table larger than two parts is read as page ranges of its heap
//! (`ctid` ranges, a TID range scan), each by whichever worker is free, all inside the one
//! exported snapshot. The ranges are fixed-size and aligned to page 0, so the same table
//! cuts the same way in the next snapshot (appended rows land in the last range) and the
//! chunks of unchanged ranges deduplicate.

/// A range of heap pages: `start..end`, the last one open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRange {
    /// First page.
    pub start: u64,
    /// Page after the last one; `None` for the last range, which takes every page after
    /// `start`, those added since the table's size was read included.
    pub end: Option<u64>,
}

/// The parts of a table of `size_bytes`: `None` (read whole) unless it is larger than two
/// parts of `part_bytes` and more than one worker can read it.
pub fn plan(
    size_bytes: u64,
    block_size: u64,
    part_bytes: u64,
    jobs: usize,
) -> Option<Vec<PageRange>> {
    if jobs < 2 || block_size == 0 || size_bytes <= 2 * part_bytes {
        return None;
    }
    let part_pages = (part_bytes / block_size).max(1);
    let pages = size_bytes.div_ceil(block_size);
    let n = pages.div_ceil(part_pages);
    Some(
        (0..n)
            .map(|k| PageRange {
                start: k * part_pages,
                end: (k + 1 < n).then_some((k + 1) * part_pages),
            })
            .collect(),
    )
}

/// `COPY (SELECT cols FROM ONLY t WHERE ctid >= '(a,0)' AND ctid < '(b,0)') TO STDOUT`.
pub fn copy_statement(schema: &str, name: &str, columns: &[String], range: PageRange) -> String {
    let mut cond = format!("ctid >= '({},0)'::tid", range.start);
    if let Some(end) = range.end {
        cond.push_str(&format!(" AND ctid < '({end},0)'::tid"));
    }
    crate::catalog::copy_where(schema, name, columns, &cond)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_every_page_once_and_stay_put_as_the_table_grows() {
        let mb = 1 << 20;
        assert_eq!(plan(100 * mb, 8192, 64 * mb, 2), None, "not over two parts");
        assert_eq!(plan(500 * mb, 8192, 64 * mb, 1), None, "one worker");
        let parts = plan(200 * mb, 8192, 64 * mb, 2).unwrap();
        assert_eq!(parts.len(), 4);
        assert_eq!(
            parts[0],
            PageRange {
                start: 0,
                end: Some(8192)
            }
        );
        for w in parts.windows(2) {
            assert_eq!(w[0].end, Some(w[1].start), "contiguous");
        }
        assert_eq!(parts.last().unwrap().end, None, "the last range is open");
        // Growing by a few pages keeps every earlier boundary.
        let grown = plan(200 * mb + 3 * 8192, 8192, 64 * mb, 2).unwrap();
        assert_eq!(&grown[..3], &parts[..3]);
    }

    #[test]
    fn part_statements_read_one_range_of_the_table_itself() {
        let cols = ["id".to_string(), "Name".to_string()];
        let mid = PageRange {
            start: 8,
            end: Some(16),
        };
        assert_eq!(
            copy_statement("public", "t", &cols, mid),
            "COPY (SELECT \"id\", \"Name\" FROM ONLY \"public\".\"t\" WHERE ctid >= '(8,0)'::tid AND ctid < '(16,0)'::tid) TO STDOUT"
        );
        let last = PageRange {
            start: 16,
            end: None,
        };
        assert!(copy_statement("public", "t", &cols, last)
            .ends_with("WHERE ctid >= '(16,0)'::tid) TO STDOUT"));
    }
}
