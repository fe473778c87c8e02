//! Property tests across the codec: round trips, chunking independence, and
//! no panics on arbitrary bytes.

use proptest::collection::vec;
use proptest::prelude::*;

use super::{
    decode_field, encode_field, rewrite_row, rows, FieldSplitter, RowBuilder, RowSplitter,
};

/// Bytes weighted towards the ones the format gives a meaning to.
fn copy_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => any::<u8>(),
        1 => prop::sample::select(&b"\\\t\n\rNx0789abfv\x08\x0b\x0c"[..]),
    ]
}

fn value() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop::option::weighted(0.9, vec(copy_byte(), 0..24))
}

/// Cuts `stream` at the given points (taken modulo its length, in any order).
fn pieces(stream: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    at.push(0);
    at.push(stream.len());
    at.sort_unstable();
    at.windows(2).map(|w| stream[w[0]..w[1]].to_vec()).collect()
}

fn encoded_row(values: &[Option<Vec<u8>>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut row = RowBuilder::new(&mut out);
    for v in values {
        row.value(v.as_deref());
    }
    row.finish();
    out.pop();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_then_decode_is_identity(v in value()) {
        let mut raw = Vec::new();
        encode_field(v.as_deref(), &mut raw);
        prop_assert!(!raw.contains(&b'\t') && !raw.contains(&b'\n') && !raw.contains(&b'\r'));
        let back = decode_field(&raw).unwrap();
        prop_assert_eq!(back.as_deref(), v.as_deref());
    }

    #[test]
    fn decode_never_panics(raw in vec(copy_byte(), 0..64)) {
        let decoded = decode_field(&raw);
        if !raw.contains(&b'\\') {
            let decoded = decoded.unwrap();
            prop_assert_eq!(decoded.as_deref(), Some(&raw[..]));
        }
    }

    #[test]
    fn feeding_pieces_gives_the_rows_of_the_whole(
        stream in vec(copy_byte(), 0..300),
        cuts in vec(any::<usize>(), 0..12),
    ) {
        let mut whole = rows(&stream);
        let expected: Vec<&[u8]> = whole.by_ref().collect();
        let mut splitter = RowSplitter::new();
        let mut got = Vec::new();
        for piece in pieces(&stream, &cuts) {
            got.extend(splitter.feed(&piece).map(<[u8]>::to_vec));
        }
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(splitter.buffered(), whole.remainder().len());
        prop_assert_eq!(splitter.finish().is_ok(), whole.remainder().is_empty());
    }

    #[test]
    fn stopping_early_loses_no_rows(
        stream in vec(copy_byte(), 0..300),
        cuts in vec(any::<usize>(), 0..12),
        take in 0usize..3,
    ) {
        let expected: Vec<&[u8]> = rows(&stream).collect();
        let mut splitter = RowSplitter::new();
        let mut got = Vec::new();
        for piece in pieces(&stream, &cuts) {
            got.extend(splitter.feed(&piece).take(take).map(<[u8]>::to_vec));
        }
        loop {
            let more: Vec<Vec<u8>> = splitter.feed(b"").take(take.max(1)).map(<[u8]>::to_vec).collect();
            if more.is_empty() {
                break;
            }
            got.extend(more);
        }
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn rewrite_without_changes_is_byte_identical(row in vec(copy_byte(), 0..200)) {
        let row: Vec<u8> = row.into_iter().filter(|&b| b != b'\n').collect();
        let mut out = Vec::new();
        rewrite_row::<&[u8]>(&row, &[], &mut out).unwrap();
        prop_assert_eq!(&out[..row.len()], &row[..]);
        prop_assert_eq!(&out[row.len()..], b"\n");
    }

    #[test]
    fn rewrite_matches_building_the_new_row(
        values in vec(value(), 1..10),
        new in vec(prop::option::of(value()), 10),
    ) {
        let row = encoded_row(&values);
        let changes: Vec<(usize, Option<Vec<u8>>)> = new
            .iter()
            .take(values.len())
            .enumerate()
            .filter_map(|(i, v)| v.clone().map(|v| (i, v)))
            .collect();
        let mut after = values.clone();
        for (i, v) in &changes {
            after[*i] = v.clone();
        }
        let mut out = Vec::new();
        rewrite_row(&row, &changes, &mut out).unwrap();
        let mut expected = encoded_row(&after);
        expected.push(b'\n');
        prop_assert_eq!(&out, &expected);

        let mut fields = FieldSplitter::new();
        let fields = fields.split(&out[..out.len() - 1]);
        prop_assert_eq!(fields.field_count(), after.len());
        for (i, v) in after.iter().enumerate() {
            let decoded = fields.decode(i).unwrap();
            prop_assert_eq!(decoded.as_deref(), v.as_deref());
        }
    }

    #[test]
    fn arbitrary_streams_never_panic(
        stream in vec(copy_byte(), 0..400),
        cuts in vec(any::<usize>(), 0..8),
        column in 0usize..6,
    ) {
        let mut splitter = RowSplitter::new();
        let mut fields = FieldSplitter::new();
        let mut out = Vec::new();
        for piece in pieces(&stream, &cuts) {
            for row in splitter.feed(&piece) {
                let f = fields.split(row);
                prop_assert_eq!(f.iter().collect::<Vec<_>>().join(&b'\t'), row);
                for i in 0..=f.field_count() {
                    let _ = f.decode(i);
                }
                let before = out.len();
                match rewrite_row(row, &[(column, Some(&b"x\ty"[..]))], &mut out) {
                    Ok(()) => prop_assert!(column < f.field_count()),
                    Err(_) => {
                        prop_assert!(column >= f.field_count());
                        prop_assert_eq!(out.len(), before);
                    }
                }
            }
        }
        let _ = splitter.finish();
    }
}
