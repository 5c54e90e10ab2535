//! libFuzzer entry point of `qsafe_fuzz::jws_verify` (see src/lib.rs for what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| qsafe_fuzz::jws_verify(data));
