//! What the terminal shows: progress bars while reading, and the run summary table. Bars draw
//! on stderr and only on a terminal, so scripts and CI see just the summary.

use std::time::Duration;

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use payroll_connectors::{Progress, Unit};

/// A bar per stage of a run.
pub struct Bar(ProgressBar);

impl Bar {
    pub fn new() -> Self {
        Bar(ProgressBar::hidden())
    }

    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl Progress for Bar {
    #[allow(clippy::expect_used, reason = "the templates are literals known to parse")]
    fn start(&self, stage: &str, total: u64, unit: Unit) {
        let template = match unit {
            Unit::Bytes => "{msg:28} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            Unit::Files => "{msg:28} [{bar:30}] {pos}/{len} {per_sec} ETA {eta}",
        };
        self.0.reset();
        self.0.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        self.0.set_length(total);
        self.0.set_style(
            ProgressStyle::with_template(template)
                .expect("valid template")
                .progress_chars("=> "),
        );
        self.0.set_message(stage.to_string());
    }

    fn advance(&self, done: u64) {
        self.0.inc(done);
    }

    /// A spinner for a stage whose size is unknown (computing, writing).
    #[allow(clippy::expect_used, reason = "the templates are literals known to parse")]
    fn stage(&self, message: &str) {
        self.0.reset();
        self.0.set_length(0);
        self.0.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        self.0
            .set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"));
        self.0.set_message(message.to_string());
        self.0.enable_steady_tick(Duration::from_millis(120));
    }
}

/// A two-column table: label, right-aligned value.
pub fn table(rows: &[(String, String)]) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    for (label, value) in rows {
        table.add_row(vec![
            Cell::new(label),
            Cell::new(value).set_alignment(CellAlignment::Right),
        ]);
    }
    table.to_string()
}

/// Peak resident memory of this process, from /proc (Linux).
pub fn peak_rss_mib() -> Option<f64> {
    proc_status_mib("VmHWM:")
}

/// The process's resident memory now, in MiB (Linux).
pub fn rss_mib() -> Option<f64> {
    proc_status_mib("VmRSS:")
}

fn proc_status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
