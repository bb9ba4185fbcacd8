#![no_main]

libfuzzer_sys::fuzz_target!(init: payroll_fuzz::init(), |data: &[u8]| payroll_fuzz::ruleset(data));
