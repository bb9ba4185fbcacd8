//! Render timings and sizes; run with
//! `cargo test --release -p payroll-payslips --test timing -- --ignored --nocapture`.
//! Also leaves a sample PDF and XLSX in the temp directory to look at.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

mod common;

use std::time::{Duration, Instant};

use common::supervisor;
use payroll_payslips::{Payslip, Renderer};

const N: u32 = 500;

/// CPU time this thread has run, from Linux's schedstat; unlike wall time it
/// is not inflated when other processes compete for the cores.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Wall time, CPU time (if known) and size of one render.
fn per_payslip(mut render: impl FnMut() -> usize) -> (Duration, Option<Duration>, usize) {
    render(); // warm-up
    let (start, cpu_start) = (Instant::now(), thread_cpu());
    let mut bytes = 0;
    for _ in 0..N {
        bytes = render();
    }
    let cpu = thread_cpu().zip(cpu_start).map(|(end, start)| (end - start) / N);
    (start.elapsed() / N, cpu, bytes)
}

fn report(what: &str, (wall, cpu, bytes): (Duration, Option<Duration>, usize)) {
    let cpu = cpu.map_or("unknown".to_string(), |c| format!("{c:?}"));
    println!("{what}: {wall:?} wall, {cpu} CPU per payslip, {bytes} bytes");
}

#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn render_time_and_size_per_payslip() {
    let start = Instant::now();
    let renderer = Renderer::new().unwrap();
    println!("Renderer::new: {:?}", start.elapsed());
    let p = supervisor();

    report("pdf", per_payslip(|| renderer.render_pdf(&p).unwrap().len()));
    let mut accented = p.clone();
    accented.worker.name = "Zoë Fernandes".into();
    report(
        "pdf, name outside the prepared subset",
        per_payslip(|| renderer.render_pdf(&accented).unwrap().len()),
    );
    report("xlsx", per_payslip(|| renderer.render_xlsx(&p).unwrap().len()));

    let threads = payroll_engine::parallel::cores();
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..N {
                    renderer.render_pdf(&p).unwrap();
                    renderer.render_xlsx(&p).unwrap();
                }
            });
        }
    });
    let rate = f64::from(N) * threads as f64 / start.elapsed().as_secs_f64();
    println!("{threads} threads, PDF + XLSX: {rate:.0} payslips/s");

    write_samples(&renderer, &p);
}

fn write_samples(renderer: &Renderer, p: &Payslip) {
    let dir = std::env::temp_dir();
    std::fs::write(dir.join("payslip-sample.pdf"), renderer.render_pdf(p).unwrap()).unwrap();
    std::fs::write(dir.join("payslip-sample.xlsx"), renderer.render_xlsx(p).unwrap()).unwrap();
    let neg = common::housekeeper();
    std::fs::write(dir.join("payslip-negative.pdf"), renderer.render_pdf(&neg).unwrap()).unwrap();
    println!("samples in {}", dir.display());
}
