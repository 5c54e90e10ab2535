//! libFuzzer entry point of `qsafe_fuzz::pki_certificate` (see src/pki.rs for what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| qsafe_fuzz::pki_certificate(data));
