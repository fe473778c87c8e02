//! Throughput of the COPY text codec over ~16 MB of realistic COPY output:
//! cutting rows and fields (what every table pays), decoding every field (what
//! pass-through avoids), and rewriting one column of eight (what a rule costs).

// criterion's macros define public functions that cannot carry a doc comment.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use doppel::copytext::{rewrite_row, rows, FieldSplitter, RowSplitter};

const TARGET_BYTES: usize = 16 << 20;
/// A typical size for the pieces a network stream delivers.
const PIECE: usize = 64 << 10;
const EMAIL: usize = 2;

/// Small deterministic generator, so every run measures the same bytes.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &[
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "José", "Zoë",
];
const LAST: &[&str] = &[
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "O'Brien",
];
const DOMAINS: &[&str] = &["example.com", "mail.example.org", "corp.example.net"];
const NOTES: &[&str] = &[
    "\\N",
    "",
    "called twice\\tno answer",
    "prefers email",
    "line one\\nline two\\r\\n",
    "path C:\\\\Users\\\\x",
];

/// Rows of (id int, name text, email text, created_at timestamptz,
/// amount numeric, active bool, note text, profile jsonb), as COPY writes them.
fn corpus() -> Vec<u8> {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(TARGET_BYTES + 1024);
    let mut id = 0u64;
    while out.len() < TARGET_BYTES {
        id += 1;
        let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
        let r = rng.next();
        let row = format!(
            "{id}\t{first} {last}\t{}.{}{}@{}\t2024-{:02}-{:02} {:02}:{:02}:{:02}.{:06}+00\t{}.{:02}\t{}\t{}\t\
             {{\"bio\": \"{first} writes\\\\n\\\\\"code\\\\\"\", \"tags\": [\"t{}\", \"t{}\"], \"score\": {}}}\n",
            first.to_lowercase(),
            last.to_lowercase(),
            r % 100,
            rng.pick(DOMAINS),
            r % 12 + 1,
            r % 28 + 1,
            r % 24,
            r % 60,
            (r >> 8) % 60,
            (r >> 16) % 1_000_000,
            (r >> 20) % 100_000,
            (r >> 40) % 100,
            if r & 1 == 0 { 't' } else { 'f' },
            rng.pick(NOTES),
            (r >> 44) % 7,
            (r >> 52) % 13,
            (r >> 32) % 1000,
        );
        out.extend_from_slice(row.as_bytes());
    }
    out
}

fn codec(c: &mut Criterion) {
    let data = corpus();
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));

    group.bench_function("rows_whole_buffer", |b| {
        b.iter(|| rows(black_box(&data)).count());
    });

    group.bench_function("rows_fed_64k", |b| {
        b.iter(|| {
            let mut splitter = RowSplitter::new();
            let mut n = 0;
            for piece in black_box(&data).chunks(PIECE) {
                n += splitter.feed(piece).count();
            }
            splitter.finish().unwrap();
            n
        });
    });

    group.bench_function("rows_and_fields", |b| {
        let mut fields = FieldSplitter::new();
        b.iter(|| {
            rows(black_box(&data))
                .map(|row| fields.split(row).field_count())
                .sum::<usize>()
        });
    });

    group.bench_function("decode_every_field", |b| {
        let mut fields = FieldSplitter::new();
        b.iter(|| {
            let mut bytes = 0;
            for row in rows(black_box(&data)) {
                let f = fields.split(row);
                for i in 0..f.field_count() {
                    bytes += f.decode(i).unwrap().map_or(0, |v| v.len());
                }
            }
            bytes
        });
    });

    group.bench_function("rewrite_1_of_8", |b| {
        let mut out = Vec::with_capacity(data.len() + data.len() / 8);
        let changes = [(EMAIL, Some(&b"user-0000@example.invalid"[..]))];
        b.iter(|| {
            out.clear();
            for row in rows(black_box(&data)) {
                rewrite_row(row, &changes, &mut out).unwrap();
            }
            out.len()
        });
    });

    group.bench_function("anonymize_1_of_8_fed_64k", |b| {
        let mut out = Vec::with_capacity(data.len() + data.len() / 8);
        let mut fields = FieldSplitter::new();
        b.iter(|| {
            out.clear();
            let mut splitter = RowSplitter::new();
            for piece in black_box(&data).chunks(PIECE) {
                for row in splitter.feed(piece) {
                    let email = fields.split(row).decode(EMAIL).unwrap();
                    let fake = email.map(|e| format!("user-{}@example.invalid", e.len()));
                    rewrite_row(row, &[(EMAIL, fake)], &mut out).unwrap();
                }
            }
            splitter.finish().unwrap();
            out.len()
        });
    });

    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
