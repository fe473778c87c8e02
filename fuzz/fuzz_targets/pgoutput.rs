//! Fuzzes the pgoutput decoder: whatever bytes a server (or an attacker in between) sends,
//! decoding must return, never panic or allocate without bound.
#![no_main]

use doppel::changes::pgoutput::decode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode(data);
});
