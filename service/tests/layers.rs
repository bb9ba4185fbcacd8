//! The service's layers, enforced: each module of `service/src` belongs to one, and imports
//! nothing from a layer above its own.
//!
//! ```text
//! lib.rs (start: wires the app, spawns the jobs, serves the API)
//!   http/ (axum: extract, call, answer)      jobs/ (run worker, scheduler, janitors, dispatcher)
//!     └──────────────── both over ─────────────────┘
//!   the app: app.rs (the state), the operations and domain modules, db/ (queries and rows)
//! ```
//!
//! `http/` and `jobs/` are peers: neither imports the other.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Layer {
    App,
    Jobs,
    Http,
    Start,
}

impl Layer {
    fn of(path: &str) -> Layer {
        match path.split('/').next() {
            Some("http") => Layer::Http,
            Some("jobs") => Layer::Jobs,
            Some("lib.rs") => Layer::Start,
            _ => Layer::App,
        }
    }

    /// The modules this layer may not name.
    fn forbidden(self) -> &'static [&'static str] {
        match self {
            Layer::App => &["crate::http", "crate::jobs", "crate::start"],
            Layer::Jobs => &["crate::http"],
            Layer::Http => &["crate::jobs"],
            Layer::Start => &[],
        }
    }
}

/// Each line of `text` (the file at `path` under `src/`) that names a layer above its own.
fn faults(path: &str, text: &str) -> Vec<String> {
    let layer = Layer::of(path);
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .filter_map(|(n, line)| {
            let named = layer.forbidden().iter().find(|above| line.contains(*above))?;
            Some(format!(
                "src/{path}:{}: {layer:?} names {named}: {}",
                n + 1,
                line.trim()
            ))
        })
        .collect()
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_imports_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let layers: Vec<Layer> = files
        .iter()
        .map(|f| Layer::of(&f.strip_prefix(&src).unwrap().to_string_lossy()))
        .collect();
    for layer in [Layer::App, Layer::Jobs, Layer::Http, Layer::Start] {
        assert!(layers.contains(&layer), "no module is in {layer:?}: {files:?}");
    }
    let found: Vec<String> = files
        .iter()
        .flat_map(|file| {
            let path = file.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
            faults(&path, &std::fs::read_to_string(file).unwrap())
        })
        .collect();
    assert!(found.is_empty(), "imports from a layer above:\n{}", found.join("\n"));
}

#[test]
fn an_upward_import_is_named_with_its_line() {
    let text = "use crate::db::Db;\n// crate::http in a comment is prose\nuse crate::http::RequestId;\n";
    assert_eq!(
        faults("db/runs.rs", text),
        ["src/db/runs.rs:3: App names crate::http: use crate::http::RequestId;"]
    );
    assert_eq!(faults("jobs/runs.rs", "use crate::http::RequestId;").len(), 1);
    assert_eq!(faults("http/runs.rs", "crate::jobs::runs::calculated(").len(), 1);
    assert!(faults("http/runs.rs", "use crate::app::App;").is_empty());
    assert!(faults("lib.rs", "jobs::runs::run(crate::http::router(app))").is_empty());
}
