#!/usr/bin/env bash
# A one-line code change in src/cli/list.rs (the text of one message), then time
# `cargo build` (what `cargo run` waits for) and `cargo test --no-run` (what a test run waits for).
set -e
cd "${1:-$(dirname "$0")/..}"
f=src/cli/list.rs
cargo build -q 2>/dev/null; cargo test --no-run -q 2>/dev/null
for i in 1 2 3; do
  sed -i "s|crate::say!(\"no snapshots[^\"]*in {}\"|crate::say!(\"no snapshots $i in {}\"|; s|doppel::say!(\"no snapshots[^\"]*in {}\"|doppel::say!(\"no snapshots $i in {}\"|" $f
  grep -q "no snapshots $i in" $f || { echo "probe edit failed"; exit 1; }
  s=$(date +%s.%N); cargo build -q 2>/dev/null; e=$(date +%s.%N)
  b=$(echo "$e - $s" | bc)
  sed -i "s|no snapshots $i in|no snapshots t$i in|" $f
  s=$(date +%s.%N); cargo test --no-run -q 2>/dev/null; e=$(date +%s.%N)
  t=$(echo "$e - $s" | bc)
  echo "run $i: cargo build ${b}s; cargo test --no-run ${t}s"
done
git checkout -q -- $f  # the probe edits are thrown away: commit first
