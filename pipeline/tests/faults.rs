//! A run that dies part way, at every write it makes: the store refuses every write after the
//! first `n`, as if the process were killed there. No partial run is ever visible to `query`,
//! `latest` or the run record readers, and the run done again afterwards is counted once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::prelude::SessionContext;
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions,
    PutOptions, PutPayload, PutResult,
};
use payroll_connectors::results::{latest_run, register_results};
use payroll_connectors::{Quiet, Store};
use payroll_engine::run::new_run_id;
use payroll_pipeline::run::{RunRequest, Source, run};
use payroll_rules::Ruleset;
use payroll_rules::vocabulary::PayPeriod;

const PERIOD: PayPeriod = PayPeriod { year: 2026, month: 10 };

/// Takes `writes_left` more writes, then refuses every one.
#[derive(Debug)]
struct DyingStore {
    inner: InMemory,
    writes_left: AtomicUsize,
}

impl std::fmt::Display for DyingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DyingStore")
    }
}

#[async_trait]
impl ObjectStore for DyingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let left = self.writes_left.load(Ordering::SeqCst);
        if left == 0 {
            return Err(object_store::Error::Generic {
                store: "DyingStore",
                source: "the process is gone".into(),
            });
        }
        self.writes_left.store(left - 1, Ordering::SeqCst);
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(&self, location: &Path, options: GetOptions) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

async fn run_sample(out: &Store, ruleset: &Ruleset) -> payroll_pipeline::Result<()> {
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/tests/data/sample");
    let request = RunRequest {
        run_id: new_run_id(),
        period: PERIOD,
        source: Source::Folder(sample),
        ruleset,
        out,
        org: None,
    };
    run(request, &Quiet).await.map(|_| ())
}

/// Rows of `table` as `payroll query` reads it; a store with no results files has none.
async fn count(store: &Store, table: &str) -> i64 {
    let ctx = SessionContext::new();
    if let Err(e) = register_results(&ctx, store).await {
        assert!(e.to_string().contains("No files found"), "{e}");
        return 0;
    }
    let batches: Vec<RecordBatch> = ctx
        .sql(&format!("SELECT count(*) FROM {table}"))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

#[tokio::test]
async fn a_run_killed_after_any_write_is_never_visible_and_its_rerun_counts_once() {
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/examples/india-contract.toml");
    let ruleset = Ruleset::load(&rules).unwrap();

    // How many writes a whole run makes.
    let dying = Arc::new(DyingStore {
        inner: InMemory::new(),
        writes_left: AtomicUsize::new(usize::MAX),
    });
    let out = Store::new(dying.clone(), "memory:///".parse().unwrap());
    run_sample(&out, &ruleset).await.unwrap();
    let writes = usize::MAX - dying.writes_left.load(Ordering::SeqCst);
    assert!(
        writes >= 5,
        "results of two orgs, their manifests, the ruleset, the record: {writes}"
    );

    for allowed in 0..writes {
        let dying = Arc::new(DyingStore {
            inner: InMemory::new(),
            writes_left: AtomicUsize::new(allowed),
        });
        let out = Store::new(dying.clone(), "memory:///".parse().unwrap());
        assert!(
            run_sample(&out, &ruleset).await.is_err(),
            "killed after {allowed} writes"
        );
        assert_eq!(count(&out, "results").await, 0, "killed after {allowed} writes");
        assert!(
            latest_run(&out, "2026-10").await.is_err(),
            "killed after {allowed} writes"
        );

        // Done again, it is counted once, whatever the first attempt left behind.
        dying.writes_left.store(usize::MAX, Ordering::SeqCst);
        run_sample(&out, &ruleset).await.unwrap();
        assert_eq!(count(&out, "results").await, 80, "killed after {allowed} writes");
        assert_eq!(count(&out, "latest").await, 80, "killed after {allowed} writes");
    }
}
