#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| orpc_fuzz_checks::decoder(bytes));
