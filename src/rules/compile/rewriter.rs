//! Applying one table's rules to its COPY text rows: only the fields the rules need are
//! decoded; every other field is copied as raw bytes.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use xxhash_rust::xxh3::{Xxh3, Xxh3DefaultBuilder};

use super::TableTransform;
use crate::anonymize::{Key, Row};
use crate::copytext::{rewrite_row, FieldSplitter, RowSplitter};
use crate::error::{Error, Result};

/// Rewrites the rows of one table's COPY stream, piece by piece, and remembers the values of
/// unique column sets so that two rows never leave with the same key.
pub struct Rewriter {
    transform: Arc<TableTransform>,
    key: Arc<Key>,
    rows: RowSplitter,
    fields: FieldSplitter,
    /// Rows rewritten so far: the position errors name.
    row: u64,
    /// Per unique set, a 128-bit hash of each written tuple, shared by the rewriters of the
    /// parts of one table. 16 bytes a row: a collision of two distinct tuples has odds far
    /// below a disk error's.
    seen: SeenKeys,
    /// The current row's decoded values, one after another: reused from row to row, so that
    /// decoding allocates nothing once it is large enough.
    arena: String,
    /// Per COPY column: where its decoded original is in `arena` (outer `None`: not
    /// decoded; inner `None`: NULL).
    original: Vec<Option<Option<Range<usize>>>>,
    /// Per COPY column: the new value, once its rule has run (outer `None`: unchanged).
    written: Vec<Option<Option<String>>>,
    /// Per step: recent outputs by input, for rules whose output depends on the value alone.
    memo: Vec<Memo>,
}

/// Recent outputs of one rule by input. Names, cities and statuses repeat across rows, and
/// the transformers are deterministic, so a repeated input costs a lookup. A rule whose
/// inputs hardly repeat (e-mails, phone numbers) stops remembering after a trial, so it
/// pays for no lookups.
enum Memo {
    /// Remembering; `tries` and `hits` count lookups during the trial.
    On {
        map: HashMap<String, Option<String>, Xxh3DefaultBuilder>,
        tries: u32,
        hits: u32,
    },
    /// Never for this rule: it reads other columns, or its inputs do not repeat.
    Off,
}

/// Inputs longer than this are not remembered: long values rarely repeat.
const MEMO_MAX_INPUT: usize = 64;
/// Entries remembered per rule before the memo starts over, bounding its memory.
const MEMO_MAX_ENTRIES: usize = 16_384;
/// Lookups before deciding whether remembering pays, and the hits it takes to go on.
const MEMO_TRIAL: u32 = 2_048;
const MEMO_MIN_HITS: u32 = MEMO_TRIAL / 4;

impl Memo {
    fn for_step(reads_other_columns: bool) -> Memo {
        if reads_other_columns {
            Memo::Off
        } else {
            Memo::On {
                map: HashMap::default(),
                tries: 0,
                hits: 0,
            }
        }
    }

    /// The remembered output for `input`, counting the lookup in the trial.
    fn get(&mut self, input: &str) -> Option<Option<String>> {
        let Memo::On { map, tries, hits } = self else {
            return None;
        };
        if input.len() > MEMO_MAX_INPUT {
            return None;
        }
        let found = map.get(input).cloned();
        if *tries < MEMO_TRIAL {
            *tries += 1;
            *hits += u32::from(found.is_some());
            if *tries == MEMO_TRIAL && *hits < MEMO_MIN_HITS {
                *self = Memo::Off;
            }
        }
        found
    }

    fn put(&mut self, input: &str, output: &Option<String>) {
        if let Memo::On { map, .. } = self {
            if input.len() <= MEMO_MAX_INPUT {
                if map.len() >= MEMO_MAX_ENTRIES {
                    map.clear();
                }
                map.insert(input.to_string(), output.clone());
            }
        }
    }
}

/// The written values of a table's unique column sets, shared by the rewriters of its parts
/// (a large table is read in several ranges at once), so that two rows never leave with the
/// same key whichever part they are in.
pub type SeenKeys = Arc<Mutex<Vec<HashSet<u128>>>>;

impl Rewriter {
    /// A rewriter for the whole stream of `transform`'s table, keyed with `key`.
    pub fn new(transform: Arc<TableTransform>, key: Arc<Key>) -> Rewriter {
        let seen = Rewriter::seen_keys(&transform);
        Rewriter::for_part(transform, key, seen)
    }

    /// An empty record of unique values for `transform`'s table, to share between parts.
    pub fn seen_keys(transform: &TableTransform) -> SeenKeys {
        Arc::new(Mutex::new(vec![HashSet::new(); transform.unique.len()]))
    }

    /// A rewriter for one part of the table, sharing `seen` with the other parts.
    pub fn for_part(transform: Arc<TableTransform>, key: Arc<Key>, seen: SeenKeys) -> Rewriter {
        let width = transform.index.len();
        let memo = transform
            .steps
            .iter()
            .map(|(_, step)| Memo::for_step(!step.anonymizer.reads().is_empty()))
            .collect();
        Rewriter {
            memo,
            transform,
            key,
            rows: RowSplitter::new(),
            fields: FieldSplitter::new(),
            row: 0,
            seen,
            arena: String::new(),
            original: vec![None; width],
            written: vec![None; width],
        }
    }

    /// Rewrites the complete rows `piece` finishes, appending them to `out`; a row cut by
    /// the end of the piece waits for the next one.
    pub fn feed(&mut self, piece: &[u8], out: &mut Vec<u8>) -> Result<()> {
        // The splitter is taken out so that rows borrowed from it can be handed to `row`.
        let mut rows = std::mem::take(&mut self.rows);
        let result = rows.feed(piece).try_for_each(|row| self.rewrite(row, out));
        self.rows = rows;
        result
    }

    /// Checks that the stream ended on a row boundary.
    pub fn finish(self) -> Result<()> {
        self.rows.finish().map_err(|e| {
            Error::Anonymization(format!(
                "table {}: the COPY stream ended inside a row ({e})",
                self.transform.table
            ))
        })
    }

    /// Rows rewritten so far.
    pub fn rows(&self) -> u64 {
        self.row
    }

    /// Rewrites one row (given without its `'\n'`), appending it and its `'\n'` to `out`.
    pub fn rewrite(&mut self, row: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.row += 1;
        let transform = Arc::clone(&self.transform);
        let t = &*transform;
        let n = self.row;
        let fields = self.fields.split(row);
        if fields.field_count() != t.index.len() {
            return Err(fail_row(
                t,
                n,
                format!(
                    "has {} fields where {} columns were read",
                    fields.field_count(),
                    t.index.len()
                ),
            ));
        }
        self.arena.clear();
        for &i in &t.decoded {
            let value = match fields.decode(i) {
                Ok(v) => v,
                Err(e) => return Err(fail_row(t, n, format!("is not valid COPY text ({e})"))),
            };
            self.original[i] = Some(match value {
                None => None,
                Some(bytes) => {
                    let text = std::str::from_utf8(&bytes).map_err(|_| {
                        fail_row(
                            t,
                            n,
                            format!("column {} is not valid UTF-8", column_name(t, i)),
                        )
                    })?;
                    let start = self.arena.len();
                    self.arena.push_str(text);
                    Some(start..self.arena.len())
                }
            });
        }
        for (k, (i, step)) in t.steps.iter().enumerate() {
            let view = View {
                transform: t,
                arena: &self.arena,
                original: &self.original,
                written: &self.written,
            };
            if let Some(when) = &step.when {
                if !when.matches(&|name| view.original(name)) {
                    continue;
                }
            }
            let value = view.value(*i);
            if let Some(out) = value.and_then(|v| self.memo[k].get(v)) {
                self.written[*i] = Some(out);
                continue;
            }
            let result = step
                .anonymizer
                .apply(value, &self.key, &step.domain, &view)
                .map_err(|e| e.to_string())
                .and_then(|out| step.checked(out));
            match result {
                Ok(out) => {
                    if let Some(v) = value {
                        self.memo[k].put(v, &out);
                    }
                    self.written[*i] = Some(out);
                }
                Err(e) => {
                    let column = step.column.clone();
                    let at = step.location.clone();
                    return Err(fail_row(
                        t,
                        n,
                        format!(
                            "column {column}: {e}; the rule at {at} can say what such values \
                         become with on_error = \"null\" or on_error = {{ fallback = \"...\" }}"
                        ),
                    ));
                }
            }
        }
        let view = View {
            transform: t,
            arena: &self.arena,
            original: &self.original,
            written: &self.written,
        };
        let mut seen_guard =
            (!t.unique.is_empty()).then(|| self.seen.lock().unwrap_or_else(|p| p.into_inner()));
        let seen_sets = seen_guard
            .as_deref_mut()
            .map(|v| v.as_mut_slice())
            .unwrap_or_default();
        for (set, seen) in t.unique.iter().zip(seen_sets.iter_mut()) {
            let mut h = Xxh3::new();
            let mut has_null = false;
            for &i in set {
                match view.written_at(i) {
                    // NULLs never collide in a unique constraint.
                    None => has_null = true,
                    Some(s) => {
                        h.update(&(s.len() as u64).to_le_bytes());
                        h.update(s.as_bytes());
                    }
                }
            }
            if !has_null && !seen.insert(h.digest128()) {
                let names: Vec<&str> = set.iter().map(|&i| column_name(t, i)).collect();
                return Err(Error::Anonymization(format!(
                    "table {}, row {n}: the anonymized ({}) equals another row's, which the \
                     unique constraint forbids; use a transformer that keeps values distinct \
                     (hash, permute, email with unique = true) for these columns",
                    t.table,
                    names.join(", ")
                )));
            }
        }
        drop(seen_guard);
        let mut changes: Vec<(usize, Option<&[u8]>)> = self
            .written
            .iter()
            .enumerate()
            .filter_map(|(i, w)| w.as_ref().map(|v| (i, v.as_deref().map(str::as_bytes))))
            .collect();
        changes.sort_unstable_by_key(|(i, _)| *i);
        let result = rewrite_row(row, &changes, out);
        drop(changes);
        for &i in &t.decoded {
            self.original[i] = None;
        }
        for (i, _) in &t.steps {
            self.written[*i] = None;
        }
        result.map_err(|e| fail_row(t, n, format!("cannot be rewritten ({e})")))
    }
}

/// An error about row `n` of the table, naming its position, never its values.
fn fail_row(t: &TableTransform, n: u64, what: String) -> Error {
    Error::Anonymization(format!("table {}, row {n}: {what}", t.table))
}

fn column_name(t: &TableTransform, i: usize) -> &str {
    t.index
        .iter()
        .find(|(_, &j)| j == i)
        .map(|(c, _)| c.as_str())
        .unwrap_or("?")
}

/// The row as transformers see it.
struct View<'a> {
    transform: &'a TableTransform,
    arena: &'a str,
    original: &'a [Option<Option<Range<usize>>>],
    written: &'a [Option<Option<String>>],
}

impl<'a> View<'a> {
    /// The decoded original of COPY column `i` (`None` for NULL or not decoded).
    fn value(&self, i: usize) -> Option<&'a str> {
        let arena = self.arena;
        self.original[i]
            .as_ref()
            .and_then(|v| v.clone())
            .map(|r| &arena[r])
    }

    /// The value column `i` will be written with.
    fn written_at(&self, i: usize) -> Option<&'a str> {
        match &self.written[i] {
            Some(w) => w.as_deref(),
            None => self.value(i),
        }
    }
}

impl Row for View<'_> {
    fn original(&self, column: &str) -> Option<Option<&str>> {
        let i = *self.transform.index.get(column)?;
        self.original[i].as_ref()?;
        Some(self.value(i))
    }

    fn written(&self, column: &str) -> Option<Option<&str>> {
        let i = *self.transform.index.get(column)?;
        match &self.written[i] {
            Some(v) => Some(v.as_deref()),
            None => self.original(column),
        }
    }
}

/// Output is handed on in pieces of about this size: COPY delivers one row per message, and
/// a piece per row would cost an allocation and a channel hop each.
const PIECE: usize = 128 * 1024;

impl Rewriter {
    /// Rewrites a whole COPY stream: the output stream ends with an error if a row cannot be
    /// rewritten or the input ends inside a row.
    pub fn stream<S>(self, pieces: S) -> impl Stream<Item = Result<Bytes>>
    where
        S: Stream<Item = Result<Bytes>> + Send,
    {
        let pieces = Box::pin(pieces);
        futures::stream::unfold((pieces, Some(self)), |(mut pieces, rewriter)| async move {
            let mut rewriter = rewriter?;
            let mut out = Vec::new();
            loop {
                match pieces.next().await {
                    Some(Ok(piece)) => {
                        if let Err(e) = rewriter.feed(&piece, &mut out) {
                            return Some((Err(e), (pieces, None)));
                        }
                        if out.len() >= PIECE {
                            return Some((Ok(Bytes::from(out)), (pieces, Some(rewriter))));
                        }
                    }
                    Some(Err(e)) => return Some((Err(e), (pieces, None))),
                    None => {
                        return match rewriter.finish() {
                            Err(e) => Some((Err(e), (pieces, None))),
                            Ok(()) if out.is_empty() => None,
                            Ok(()) => Some((Ok(Bytes::from(out)), (pieces, None))),
                        };
                    }
                }
            }
        })
    }
}
