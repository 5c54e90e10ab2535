//! libFuzzer entry point of `qsafe_fuzz::pkcs8_parse` (see src/lib.rs for what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| qsafe_fuzz::pkcs8_parse(data));
