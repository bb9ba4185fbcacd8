//! The service's layers, enforced: each module of `service/src` belongs to one, and names
//! nothing from a layer above its own.
//!
//! ```text
//! lib.rs (start: wires the app, spawns the jobs, serves the API)
//!   http/ (axum: extract, call, answer)      jobs/ (run worker, scheduler, janitors, dispatcher)
//!     └──────────────── both over ─────────────────┘
//!   the app: app.rs (the state), caller.rs, the operations and the other modules
//!   db/ (queries and row types)
//!   domain/ (statuses, kinds, channels, permissions, schedules), error.rs
//! ```
//!
//! `http/` and `jobs/` are peers: neither names the other. An item of `lib.rs` (`crate::serve`)
//! is the top layer's: no module names one.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    Domain,
    Db,
    App,
    Jobs,
    Http,
    Start,
}

impl Layer {
    /// The layer of the file at `path` under `src/`.
    fn of_file(path: &str) -> Layer {
        match path.split('/').next() {
            Some("domain" | "error.rs") => Layer::Domain,
            Some("db") => Layer::Db,
            Some("http") => Layer::Http,
            Some("jobs") => Layer::Jobs,
            Some("lib.rs") => Layer::Start,
            _ => Layer::App,
        }
    }

    /// The layer of what `crate::<name>` names: a module of `src/` (`modules`), or an item of
    /// `lib.rs` (its re-exports are their modules').
    fn of_name(name: &str, modules: &[String]) -> Layer {
        match name {
            "domain" | "error" | "Error" | "Result" => Layer::Domain,
            "db" => Layer::Db,
            "http" => Layer::Http,
            "jobs" => Layer::Jobs,
            "App" | "ServeConfig" => Layer::App,
            _ if modules.iter().any(|m| m == name) => Layer::App,
            _ => Layer::Start,
        }
    }

    /// Whether a module of this layer may name one of `other`: one below, or its own.
    fn may_name(self, other: Layer) -> bool {
        match (self, other) {
            (Layer::Jobs, Layer::Http) | (Layer::Http, Layer::Jobs) => false,
            _ => other <= self,
        }
    }
}

/// Each line of `text` (the file at `path` under `src/`) that names a layer above its own.
fn faults(path: &str, text: &str, modules: &[String]) -> Vec<String> {
    let layer = Layer::of_file(path);
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .flat_map(|(n, line)| {
            line.match_indices("crate::").filter_map(move |(at, _)| {
                let name: String = line[at + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let named = Layer::of_name(&name, modules);
                (!layer.may_name(named)).then(|| {
                    format!(
                        "src/{path}:{}: {layer:?} names crate::{name} ({named:?}): {}",
                        n + 1,
                        line.trim()
                    )
                })
            })
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

/// The modules `lib.rs` declares.
fn modules(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|line| line.strip_prefix("pub mod ").or_else(|| line.strip_prefix("mod ")))
        .map(|rest| rest.trim_end_matches(';').to_string())
        .collect()
}

#[test]
fn no_module_names_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = modules(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    let mut files = Vec::new();
    sources(&src, &mut files);
    let paths: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/"))
        .collect();
    let layers: Vec<Layer> = paths.iter().map(|p| Layer::of_file(p)).collect();
    for layer in [
        Layer::Domain,
        Layer::Db,
        Layer::App,
        Layer::Jobs,
        Layer::Http,
        Layer::Start,
    ] {
        assert!(layers.contains(&layer), "no module is in {layer:?}: {paths:?}");
    }
    let found: Vec<String> = files
        .iter()
        .zip(&paths)
        .flat_map(|(file, path)| faults(path, &std::fs::read_to_string(file).unwrap(), &modules))
        .collect();
    assert!(found.is_empty(), "names from a layer above:\n{}", found.join("\n"));
}

#[test]
fn an_upward_name_is_reported_with_its_line() {
    let modules = modules("pub mod app;\npub mod notices;\nmod http;\n");
    assert_eq!(modules, ["app", "notices", "http"]);
    let text = "use crate::db::Db;\n// crate::http in a comment is prose\nuse crate::http::RequestId;\n";
    assert_eq!(
        faults("app.rs", text, &modules),
        ["src/app.rs:3: App names crate::http (Http): use crate::http::RequestId;"]
    );
    // db names only the domain below it.
    assert_eq!(
        faults("db/notices.rs", "use crate::notices::Channel;", &modules).len(),
        1
    );
    assert!(faults("db/notices.rs", "use crate::domain::notices::Channel;", &modules).is_empty());
    assert_eq!(faults("domain/uploads.rs", "crate::db::Db", &modules).len(), 1);
    assert!(faults("error.rs", "use crate::domain::permissions::Permission;", &modules).is_empty());
    // Peers, and an item of lib.rs.
    assert_eq!(faults("jobs/runs.rs", "use crate::http::RequestId;", &modules).len(), 1);
    assert_eq!(
        faults("http/runs.rs", "crate::jobs::runs::calculated(", &modules).len(),
        1
    );
    assert_eq!(faults("caller.rs", "crate::signing_keys(config)", &modules).len(), 1);
    assert!(faults("http/runs.rs", "use crate::app::App; crate::Result<()>", &modules).is_empty());
    assert!(faults("lib.rs", "jobs::run(crate::http::router(app))", &modules).is_empty());
}
