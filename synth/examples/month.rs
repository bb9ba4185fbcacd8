//! Generates one month and reports how long it took, for timing the generator on its own:
//! `cargo run --release -p payroll-synth --example month -- WORKERS OUT_DIR [SEED] [BAD_LINES]`

#![allow(clippy::unwrap_used, clippy::expect_used)] // An example stops at its first failure, saying which.

use std::path::PathBuf;
use std::time::Instant;

use payroll_synth::{SynthConfig, generate};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: u64| args.get(i).map_or(default, |a| a.parse().unwrap());
    let cfg = SynthConfig {
        workers: number(0, 1000) as usize,
        year: 2026,
        month: 10,
        seed: number(2, 1),
        bad_lines: number(3, 0) as usize,
    };
    let out = PathBuf::from(args.get(1).map_or("out/synth", String::as_str));
    let started = Instant::now();
    let summary = generate(&cfg, &out)?;
    println!("{summary:?} in {:.2?}", started.elapsed());
    Ok(())
}
