//! Every input the fuzz targets ever crashed on, replayed through the same checks on stable Rust.
//! See `fuzz/README.md`.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
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
    assert!(replay("request_input", orpc_fuzz_checks::request_input) > 0);
}

#[test]
fn encoder_regressions() {
    assert!(replay("encoder", orpc_fuzz_checks::encoder) > 0);
}
