//! Shared by the harness's integration tests: one compiled component per test
//! binary, and a guard against testing a stale build.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;
use textract_host::engine::Harness;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

pub fn component_path() -> PathBuf {
    textract_host::default_component_path()
}

/// The component, compiled once for this test binary. Fails when the build is
/// older than the guest's sources, so tests never pass against stale code.
pub fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let path = component_path();
        let built = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .unwrap_or_else(|_| panic!("no component at {}: run `make component` (make test does)", path.display()));
        if std::env::var_os("TEXTRACT_COMPONENT").is_none() {
            let root = workspace();
            let newest = newest_mtime(&[root.join("src"), root.join("wit")]);
            assert!(
                built >= newest,
                "{} is older than the guest sources: run `make component` (make test does)",
                path.display()
            );
        }
        Harness::load(&path).unwrap()
    })
}

fn newest_mtime(paths: &[PathBuf]) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        if let Ok(meta) = std::fs::metadata(&p) {
            if meta.is_dir() {
                if let Ok(entries) = std::fs::read_dir(&p) {
                    stack.extend(entries.flatten().map(|e| e.path()));
                }
            } else if let Ok(m) = meta.modified() {
                newest = newest.max(m);
            }
        }
    }
    newest
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}
