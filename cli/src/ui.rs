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

/// CPU time this process has used so far, user and system, in seconds, from /proc (Linux).
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name, in parentheses, may hold spaces: count the fields after it. The first
    // is the third field; utime and stime are the 14th and 15th, in ticks of USER_HZ, which
    // Linux fixes at 100 a second for userspace.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let user: f64 = fields.nth(11)?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) / 100.0)
}

fn proc_status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    /// The CPU time grows with work done, and by no more than the time the work took: other
    /// tests share the cores, so the work runs until the count moves rather than for a while.
    #[test]
    fn cpu_time_counts_the_work_done() {
        let read = || super::cpu_seconds().unwrap_or_else(|| panic!("/proc/self/stat reads"));
        let (before, started) = (read(), Instant::now());
        let mut x = 1_u64;
        let spent = loop {
            for _ in 0..1_000_000 {
                x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
            }
            let spent = read() - before;
            if spent >= 0.2 {
                break spent;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "two minutes of work read as {spent} s of CPU"
            );
        };
        let elapsed = started.elapsed().as_secs_f64();
        assert!(spent <= elapsed + 0.05, "{spent} s of CPU in {elapsed} s on one thread");
    }
}
