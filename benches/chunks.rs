//! Throughput of what a snapshot does to every byte of COPY text, one core, over ~32 MiB of
//! realistic COPY output (person-like rows, as in `benches/e2e.sh`, and pgbench rows):
//!
//! - `cdc/*`: the FastCDC chunker and the order-independent table digest (BLAKE3 per row),
//!   alone and together, fed in 256 KiB pieces as the snapshot workers feed them;
//! - `store/*`: what each chunk costs once cut — BLAKE3 of the chunk (its name) and zstd at
//!   levels 1 and 3, with a fresh context per chunk as `Repository::put_chunk` does, and with
//!   one reused context for comparison;
//! - `pipeline/*`: the whole per-byte path of a snapshot, chunk → zstd → BLAKE3 plus the table
//!   digest, at levels 1 and 3;
//! - `restore/*`: the reverse, zstd decompression and the BLAKE3 check of each chunk.
//!
//! Divide a snapshot's MB/s by these to see how many cores the client side needs.

// criterion's macros define public functions that cannot carry a doc comment.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use doppel::repo::digest::TableDigest;
use doppel::repo::{Chunker, ChunkerParams};

const TARGET_BYTES: usize = 32 << 20;
/// The size of the batches the snapshot workers hand to the chunker (`snapshot::BATCH`).
const PIECE: usize = 256 << 10;
const LEVELS: [i32; 2] = [1, 3];

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
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "José", "Zoë", "Margaret", "Linus",
    "Frances", "Donald", "Radia", "Niklaus", "Sophie", "Hedy",
];
const LAST: &[&str] = &[
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "O'Brien", "Hamilton",
    "Knuth", "Perlman", "Wirth", "Müller", "Nguyen", "García", "Kowalski", "Rossi",
];
const DOMAINS: &[&str] = &["example.com", "mail.example.org", "corp.example.net"];
const STREETS: &[&str] = &[
    "Main", "Oak", "Pine", "Maple", "Station", "Church", "Mill", "Lake",
];
const KINDS: &[&str] = &["Street", "Road", "Avenue", "Lane", "Way"];
const CITIES: &[&str] = &[
    "London",
    "Paris",
    "Berlin",
    "Madrid",
    "Lisbon",
    "Zürich",
    "Kraków",
    "Göteborg",
];
const CHANNELS: &[&str] = &["web", "ios", "android", "partner"];

/// Two thirds person rows (id, first, last, email, street, city, postcode, phone, jsonb
/// profile, timestamptz), one third pgbench_accounts rows (aid, bid, abalance, 84 blank
/// filler), as COPY text writes them.
fn corpus() -> Vec<u8> {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(TARGET_BYTES + 1024);
    let mut id = 0u64;
    while out.len() < TARGET_BYTES {
        id += 1;
        let r = rng.next();
        let row = if id.is_multiple_of(3) {
            format!(
                "{id}\t{}\t{}\t{:84}\n",
                id / 100_000 + 1,
                (r % 20_000) as i64 - 10_000,
                ""
            )
        } else {
            let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
            let h = rng.next();
            format!(
                "{id}\t{first}\t{last}\t{}.{}{:04x}@{}\t{} {} {}\t{}\t{:05}\t+{} {:010}\t\
                 {{\"bio\": \"{first} {last} joined via {}\", \"tags\": [\"t{}\", \"t{}\"], \"score\": {}, \"token\": \"{:016x}\", \"newsletter\": {}}}\t\
                 2021-{:02}-{:02} {:02}:{:02}:{:02}+00\n",
                first.to_lowercase(),
                last.to_lowercase().replace('\'', ""),
                h & 0xffff,
                rng.pick(DOMAINS),
                r % 1999 + 1,
                rng.pick(STREETS),
                rng.pick(KINDS),
                rng.pick(CITIES),
                (r >> 12) % 100_000,
                30 + (r >> 20) % 20,
                (h >> 16) % 10_000_000_000,
                rng.pick(CHANNELS),
                (r >> 28) % 50,
                (r >> 34) % 7,
                (r >> 38) % 1000,
                rng.next(),
                r & 4 == 0,
                (r >> 48) % 12 + 1,
                (r >> 52) % 28 + 1,
                (r >> 40) % 24,
                (r >> 44) % 60,
                (r >> 56) % 60,
            )
        };
        out.extend_from_slice(row.as_bytes());
    }
    out
}

/// The corpus cut as a snapshot cuts it.
fn cut(data: &[u8]) -> Vec<Bytes> {
    let mut chunker = Chunker::new(ChunkerParams::default());
    let mut chunks = Vec::new();
    for piece in data.chunks(PIECE) {
        chunks.extend(chunker.push(piece));
    }
    chunks.extend(chunker.finish());
    chunks
}

fn cdc(c: &mut Criterion) {
    let data = corpus();
    let mut group = c.benchmark_group("cdc");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));

    group.bench_function("fastcdc_chunker", |b| {
        b.iter(|| {
            let mut chunker = Chunker::new(ChunkerParams::default());
            let mut n = 0;
            for piece in black_box(&data).chunks(PIECE) {
                n += chunker.push(piece).len();
            }
            n + chunker.finish().len()
        });
    });

    group.bench_function("table_digest", |b| {
        b.iter(|| {
            let mut digest = TableDigest::new();
            for piece in black_box(&data).chunks(PIECE) {
                digest.update(piece);
            }
            digest.hex()
        });
    });

    // What a snapshot worker's own task does with every piece before handing chunks on.
    group.bench_function("chunker_and_digest", |b| {
        b.iter(|| {
            let mut chunker = Chunker::new(ChunkerParams::default());
            let mut digest = TableDigest::new();
            let mut n = 0;
            for piece in black_box(&data).chunks(PIECE) {
                digest.update(piece);
                n += chunker.push(piece).len();
            }
            (n + chunker.finish().len(), digest.hex())
        });
    });
    group.finish();
}

fn store(c: &mut Criterion) {
    let data = corpus();
    let chunks = cut(&data);
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));

    group.bench_function("blake3_chunks", |b| {
        b.iter(|| {
            black_box(&chunks)
                .iter()
                .map(|c| blake3::hash(c).as_bytes()[0] as usize)
                .sum::<usize>()
        });
    });

    for level in LEVELS {
        // As Repository::put_chunk does it: a new compression context per chunk.
        group.bench_with_input(BenchmarkId::new("zstd_bulk", level), &level, |b, &level| {
            b.iter(|| {
                black_box(&chunks)
                    .iter()
                    .map(|c| zstd::bulk::compress(c, level).unwrap().len())
                    .sum::<usize>()
            });
        });
        group.bench_with_input(
            BenchmarkId::new("zstd_reused_context", level),
            &level,
            |b, &level| {
                let mut z = zstd::bulk::Compressor::new(level).unwrap();
                b.iter(|| {
                    black_box(&chunks)
                        .iter()
                        .map(|c| z.compress(c).unwrap().len())
                        .sum::<usize>()
                });
            },
        );
    }
    group.finish();
}

fn pipeline(c: &mut Criterion) {
    let data = corpus();
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));

    for level in LEVELS {
        // Everything a snapshot spends on one table's bytes, on one core: digest, chunker,
        // and per chunk its BLAKE3 name and zstd body.
        group.bench_with_input(
            BenchmarkId::new("digest_chunk_zstd_blake3", level),
            &level,
            |b, &level| {
                b.iter(|| {
                    let mut chunker = Chunker::new(ChunkerParams::default());
                    let mut digest = TableDigest::new();
                    let mut stored = 0usize;
                    let mut store = |c: Bytes| {
                        let id = blake3::hash(&c);
                        stored += zstd::bulk::compress(&c, level).unwrap().len()
                            + id.as_bytes()[0] as usize;
                    };
                    for piece in black_box(&data).chunks(PIECE) {
                        digest.update(piece);
                        chunker.push(piece).into_iter().for_each(&mut store);
                    }
                    chunker.finish().into_iter().for_each(&mut store);
                    (stored, digest.hex())
                });
            },
        );
    }
    group.finish();
}

fn restore(c: &mut Criterion) {
    let data = corpus();
    let chunks = cut(&data);
    let mut group = c.benchmark_group("restore");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));

    for level in LEVELS {
        let stored: Vec<(Vec<u8>, usize)> = chunks
            .iter()
            .map(|c| (zstd::bulk::compress(c, level).unwrap(), c.len()))
            .collect();
        let ratio = data.len() as f64 / stored.iter().map(|(s, _)| s.len()).sum::<usize>() as f64;
        eprintln!("zstd level {level}: compression ratio {ratio:.2} on the corpus");
        // As Repository::get_chunk does it: decompress, then check the BLAKE3 name.
        group.bench_with_input(
            BenchmarkId::new("unzstd_blake3", level),
            &stored,
            |b, stored| {
                b.iter(|| {
                    black_box(stored)
                        .iter()
                        .map(|(body, len)| {
                            let plain = zstd::bulk::decompress(body, *len).unwrap();
                            blake3::hash(&plain).as_bytes()[0] as usize + plain.len()
                        })
                        .sum::<usize>()
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, cdc, store, pipeline, restore);
criterion_main!(benches);
