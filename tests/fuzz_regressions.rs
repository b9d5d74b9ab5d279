//! Every input the fuzz targets ever crashed on, replayed through the same checks on stable Rust.
//! See `fuzz/README.md`. The runtime's target keeps its inputs in `fuzz/regressions/`, the
//! protocol's encoder and decoder in `orpc-protocol/fuzz/regressions/`.

use std::path::Path;

fn replay(fuzz_dir: &str, target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(fuzz_dir)
        .join("regressions")
        .join(target);
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        eprintln!("replaying {}", path.display());
        check(&bytes);
        replayed += 1;
    }
    replayed
}

#[test]
fn request_input_regressions() {
    assert!(replay("fuzz", "request_input", orpc_fuzz_checks::request_input) > 0);
}

#[test]
fn decoder_regressions() {
    assert!(replay("orpc-protocol/fuzz", "decoder", orpc_fuzz_checks::decoder) > 0);
}

#[test]
fn encoder_regressions() {
    assert!(replay("orpc-protocol/fuzz", "encoder", orpc_fuzz_checks::encoder) > 0);
}

/// The fuzz targets' checks over pseudo-random inputs, on stable Rust and in every test run: a
/// property test with a fixed seed, so a failure is reproducible.
#[test]
fn checks_hold_for_pseudo_random_inputs() {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    // Bytes biased towards the ones that matter to SSE: line breaks, NUL, colons, spaces, UTF-8.
    const INTERESTING: &[u8] = b"\r\n\0: a{}\"\\\xc3\xa9\xe2\x82\xac\xff";
    for _ in 0..20_000 {
        let len = (next() % 96) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                let r = next();
                if r % 3 == 0 {
                    INTERESTING[(r >> 8) as usize % INTERESTING.len()]
                } else {
                    (r >> 16) as u8
                }
            })
            .collect();
        orpc_fuzz_checks::encoder(&bytes);
        orpc_fuzz_checks::request_input(&bytes);
        orpc_fuzz_checks::decoder(&bytes);
    }
}
