//! textract-host: the Wasmtime embedding that runs the textract-connector
//! component the way a multi-tenant connector runtime would, and the CLI and
//! test runner built on it.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

// The engine (Wasmtime, sandbox, clocks) and the transport (egress, replay,
// record, live) are kept apart; both report failures as an `outcome`. `cli`
// holds what the commands do beyond one run; `testkit` the scenario runner and
// generated recordings the tests and the bench use. `worker` is the Camunda 8
// job worker built on the engine.
pub mod cli;
pub mod engine;
pub mod limits;
pub mod outcome;
pub mod testkit;
pub mod transport;
pub mod worker;

use std::path::PathBuf;

/// The component as `make component` ships it (cargo's release build, post-optimised).
pub fn default_component_path() -> PathBuf {
    if let Ok(path) = std::env::var("TEXTRACT_COMPONENT") {
        return PathBuf::from(path);
    }
    workspace_root().join("target/component/textract_connector.wasm")
}

/// The folder holding the workspace `Cargo.toml`: found next to the running
/// binary (`target/<profile>/textract-host`), else where this crate was built.
pub fn workspace_root() -> PathBuf {
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1) {
            if dir.join("Cargo.toml").is_file() && dir.join("wit").is_dir() {
                return dir.to_path_buf();
            }
        }
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}
