#![no_main]

// Each target uses one of the checks the file holds.
#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| checks::encoder(bytes));
