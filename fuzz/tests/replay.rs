//! Replays the committed corpus of every fuzz target (`corpus/<target>/`, seeds and what
//! `scripts/fuzz` minimized from its runs) and every input that once crashed one
//! (`regressions/<target>/`). A target without a corpus fails: nothing is skipped silently.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails by panicking, with the message.

use std::path::{Path, PathBuf};

use payroll_fuzz::TARGETS;

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap_or_else(|e| panic!("{}: {e}", dir.display())).path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_and_regression_input_decodes_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    for (target, run) in TARGETS {
        let corpus = files(&root.join("corpus").join(target));
        assert!(
            !corpus.is_empty(),
            "no corpus for `{target}`: expected seed files in fuzz/corpus/{target}/"
        );
        for path in corpus.iter().chain(&files(&root.join("regressions").join(target))) {
            let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                failures.push(path.display().to_string());
            }
        }
    }
    assert!(failures.is_empty(), "inputs that panic:\n{}", failures.join("\n"));
}
