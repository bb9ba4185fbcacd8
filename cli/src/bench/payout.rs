//! `payroll bench payout`: a bank payout of a generated month's final results, every org's
//! workers paid: reading `net_payable` from the results, the worker master at payout time, the
//! plan (bank checks, exceptions), the pain.001 XML, the NEFT CSV and the exceptions report, and
//! writing them to the store. The service adds one multi-row insert per 500 payments.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use payroll_connectors::layout;
use payroll_engine::parallel::cores;
use payroll_pipeline::Source;
use payroll_pipeline::payout::{self, Debtor, Header};
use payroll_rules::Ruleset;
use payroll_rules::vocabulary::PayPeriod;

use crate::{EXAMPLE_RULESET, run, ui};

pub async fn payout(workers: usize, period: PayPeriod) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let inputs = dir.path().join("inputs");
    super::generate(workers, period, &inputs)?;
    let ruleset = Ruleset::parse(EXAMPLE_RULESET, Path::new("india-contract.toml"))?;
    let out = dir.path().join("out").display().to_string();
    let (report, store) = run::run(period, Source::Folder(inputs.clone()), &ruleset, &out, &ui::Bar::new()).await?;
    let record = report.record;

    let started = Instant::now();
    let master = payroll_pipeline::master::current(&Source::Folder(inputs)).await?;
    let master_time = started.elapsed();
    let debtor = Debtor {
        name: "Bench Org".into(),
        account: "000111222333".into(),
        ifsc: "ICIC0000001".into(),
        bic: None,
    };
    let (mut read, mut render, mut write) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut paid, mut exceptions, mut bytes) = (0usize, 0usize, [0usize; 3]);
    let mut largest = (0usize, 0usize);
    for org in &record.orgs {
        let at = Instant::now();
        let dues = payout::dues(&store, org, &record.period, &record.run_id).await?;
        read += at.elapsed();
        let at = Instant::now();
        let (payments, unpaid) = payout::plan(dues, |w| master.worker(w), org, &record.run_id, 1);
        let id = uuid::Uuid::now_v7().simple().to_string();
        let header = Header {
            message_id: &id,
            created_at: chrono::Utc::now(),
            period,
            org,
            debtor: &debtor,
        };
        let files = [
            ("pain.001.xml", payout::pain001(&header, &payments)),
            ("neft.csv", payout::neft_csv(&header, &payments)?),
            ("exceptions.csv", payout::exceptions_csv(&unpaid)?),
        ];
        render += at.elapsed();
        let at = Instant::now();
        for (i, (name, file)) in files.into_iter().enumerate() {
            bytes[i] += file.len();
            if i == 0 && payments.len() > largest.0 {
                largest = (payments.len(), file.len());
            }
            store
                .put(
                    &layout::payout_file(org, &record.period, &record.run_id, &id, name),
                    file,
                )
                .await?;
        }
        write += at.elapsed();
        paid += payments.len();
        exceptions += unpaid.len();
    }
    let total = master_time + read + render + write;
    let mb = |b: usize| b as f64 / 1e6;
    println!(
        "payout, {} workers in {} org(s), {} cores: {paid} paid, {exceptions} exceptions; total {:.2} s \
         (master {:.2} s, read results {:.2} s, plan and render {:.2} s, write {:.2} s)\n  \
         pain.001 {:.1} MB, NEFT CSV {:.1} MB, exceptions {:.2} MB; largest org's pain.001: {} payments, {:.1} MB",
        record.rows,
        record.orgs.len(),
        cores(),
        total.as_secs_f64(),
        master_time.as_secs_f64(),
        read.as_secs_f64(),
        render.as_secs_f64(),
        write.as_secs_f64(),
        mb(bytes[0]),
        mb(bytes[1]),
        mb(bytes[2]),
        largest.0,
        mb(largest.1),
    );
    Ok(())
}
