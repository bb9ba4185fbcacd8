//! `payroll demo`: the embedded default. Generate a small organisation's month, run it with the
//! built-in example ruleset, and show the summary and where everything is. No broker, no cloud.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use payroll_rules::Ruleset;
use payroll_rules::vocabulary::PayPeriod;

use crate::{EXAMPLE_RULESET, payslips, run, ui};

#[derive(clap::Args)]
pub struct DemoArgs {
    /// How many workers the demo organisation has
    #[arg(long, default_value_t = 500)]
    workers: usize,
    /// The month to run
    #[arg(long, default_value = "2026-10")]
    period: PayPeriod,
    /// Folder for the generated inputs and the results
    #[arg(long, default_value = "./payroll-demo")]
    dir: PathBuf,
}

pub async fn demo(args: DemoArgs) -> Result<ExitCode> {
    let inputs = args.dir.join("inputs");
    let out = args.dir.join("out");
    let config = payroll_synth::SynthConfig {
        workers: args.workers,
        year: args.period.year,
        month: args.period.month,
        seed: 42,
        // A few broken lines, to show that they are refused with reasons and the run goes on.
        bad_lines: 5,
    };
    let generated = payroll_synth::generate(&config, &inputs)?;
    println!(
        "Generated {} workers at {} sites with {} punches in {}",
        generated.workers,
        generated.sites,
        generated.punches,
        inputs.display()
    );
    let ruleset = Ruleset::parse(EXAMPLE_RULESET, Path::new("india-contract.toml"))?;
    let bar = ui::Bar::new();
    let source = payroll_pipeline::Source::Folder(inputs);
    let (report, store) = run::run(args.period, source, &ruleset, &out.display().to_string(), &bar).await?;
    println!("{}", run::summary(&report, &store, &ruleset));
    let started = std::time::Instant::now();
    let formats = payroll_pipeline::payslips::Formats { pdf: true, xlsx: true };
    let batch = payslips::render(&store, &report.record, formats, &bar).await?;
    print!("{}", payslips::summary(&batch, &store, started.elapsed().as_secs_f64()));
    let some_worker = "W0000001";
    println!(
        "Next:\n  payroll explain --out {out} --period {p} --worker {some_worker}\n  payroll query --out {out} \"SELECT org_id, count(*) AS workers, sum(net_pay) AS net FROM latest GROUP BY org_id\"",
        out = out.display(),
        p = args.period,
    );
    Ok(ExitCode::SUCCESS)
}
