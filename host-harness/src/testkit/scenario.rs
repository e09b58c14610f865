//! Data-driven scenarios: one folder per case under `tests/`, holding
//! `input.json`, an optional `cassette.json`, and exactly one of
//! `expected.json` (the result, compared exactly, key order included) or
//! `expected-error.json` (the connector error). An optional `scenario.json`
//! names extra allowed hosts and the egress denials the case expects.
//!
//! A scenario passes only when the result matches, every request matched a
//! recorded interaction (and its signature assertions), every interaction was
//! used, and the denials are exactly the expected ones.
//!
//! A scenario's `documents` folder is served from a scratch copy, so a result
//! stored as a document (`documentReturnFormat` DOCUMENT) never lands in the
//! source tree; such a result, a reference of the folder store, must name a
//! document the copy holds, whose bytes hash to its `contentHash`.

use crate::engine::documents::{FolderStore, FOLDER_STORE_ID};
use crate::engine::sandbox::{Grants, RuntimeMode};
use crate::engine::{ExecOptions, ExecutionClock, Harness};
use crate::limits::Limits;
use crate::outcome::GuestError;
use crate::transport::cassette::Cassette;
use crate::transport::egress::EgressPolicy;
use crate::transport::{Mode, Replayer};
use anyhow::{bail, Context as _, Result};
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScenarioOptions {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// `METHOD url` of each request the egress policy must refuse.
    #[serde(default)]
    pub expect_denied: Vec<String>,
    /// The most wall-clock milliseconds the execution may take (polling runs on
    /// the replay clock, so a ten-minute window must not take real time).
    #[serde(default)]
    pub budget_ms: Option<u64>,
    /// The document store's folder, relative to the scenario.
    #[serde(default)]
    pub documents: Option<String>,
    /// Run in self-managed mode with these grants (SaaS otherwise).
    #[serde(default)]
    pub self_managed: bool,
    /// `AWS_*` variables for self-managed mode; relative paths in `*_FILE`
    /// variables are relative to the scenario folder.
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
    /// The AWS config folder for self-managed mode, relative to the scenario.
    #[serde(default)]
    pub aws_config_dir: Option<String>,
}

/// Every scenario folder under `root`, sorted.
pub fn discover(root: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(root).with_context(|| format!("reading {}", root.display()))? {
        let path = entry?.path();
        if path.join("input.json").is_file() {
            dirs.push(path);
        }
    }
    dirs.sort();
    Ok(dirs)
}

pub struct Outcome {
    pub elapsed: Duration,
    /// Time that passed on the execution's (virtual) clock.
    pub clock_elapsed: Duration,
    pub requests: usize,
}

/// Runs one scenario; the error explains every way it failed.
pub async fn run(harness: &Harness, dir: &Path) -> Result<Outcome> {
    let input = std::fs::read_to_string(dir.join("input.json")).context("reading input.json")?;
    let options: ScenarioOptions = match std::fs::read_to_string(dir.join("scenario.json")) {
        Ok(text) => serde_json::from_str(&text).context("parsing scenario.json")?,
        Err(_) => ScenarioOptions::default(),
    };
    let expected_ok = read_json(&dir.join("expected.json"))?;
    let expected_err: Option<GuestError> = read_json(&dir.join("expected-error.json"))?
        .map(serde_json::from_value)
        .transpose()
        .context("expected-error.json must hold {kind, code, message, retryable}")?;
    if expected_ok.is_some() == expected_err.is_some() {
        bail!("a scenario needs exactly one of expected.json and expected-error.json");
    }

    let cassette = match dir.join("cassette.json") {
        p if p.is_file() => Cassette::load(&p)?,
        _ => Cassette::default(),
    };
    let time = cassette.replay_time(None)?;
    let replayer = Arc::new(Mutex::new(Replayer::new(cassette, dir.to_path_buf())));
    let mut policy = EgressPolicy::implied_by(&input);
    options.allow_hosts.iter().for_each(|h| policy.allow(h));

    let scratch = match &options.documents {
        Some(d) => Some(ScratchDocuments::copy_of(&dir.join(d))?),
        None => None,
    };
    let started = Instant::now();
    let execution = harness
        .execute(
            &input,
            ExecOptions {
                mode: Mode::Replay(replayer.clone()),
                policy,
                clock: ExecutionClock::pinned(time),
                inherit_stderr: false,
                deterministic_random: true,
                documents: scratch.as_ref().map(|s| FolderStore::shared(s.0.clone())),
                runtime: if options.self_managed {
                    RuntimeMode::SelfManaged
                } else {
                    RuntimeMode::Saas
                },
                grants: Grants {
                    env: options
                        .env
                        .iter()
                        .map(|(k, v)| {
                            let value = if k.ends_with("_FILE") {
                                dir.join(v).to_string_lossy().into_owned()
                            } else {
                                v.clone()
                            };
                            (k.clone(), value)
                        })
                        .collect(),
                    aws_config_dir: options.aws_config_dir.as_ref().map(|d| dir.join(d)),
                },
                limits: Limits::default(),
            },
        )
        .await?;
    let elapsed = started.elapsed();

    let mut failures = execution.journal.problems.clone();
    if let Some(budget) = options.budget_ms {
        if elapsed > Duration::from_millis(budget) {
            failures.push(format!(
                "took {:.0} ms, over its budget of {budget} ms ({:.0} s on the replay clock)",
                elapsed.as_secs_f64() * 1e3,
                execution.clock_elapsed.as_secs_f64()
            ));
        }
    }
    failures.extend(replayer.lock().map(|r| r.unused()).unwrap_or_default());
    if execution.journal.denied != options.expect_denied {
        failures.push(format!(
            "egress denials: expected {:?}, got {:?}",
            options.expect_denied, execution.journal.denied
        ));
    }
    match (&execution.outcome, expected_ok, expected_err) {
        (Ok(actual), Some(expected), _) => {
            let actual: Value = serde_json::from_str(actual).context("the connector's result is not JSON")?;
            if let Some(problem) = created_document_problem(&actual, scratch.as_ref()) {
                failures.push(problem);
            }
            // Serialising both (order-preserving) compares values and key order at once.
            let (want, got) = (serde_json::to_string(&expected)?, serde_json::to_string(&actual)?);
            if want != got {
                let mut diffs = Vec::new();
                crate::transport::cassette::diff_json("result", &expected, &actual, ("expected", "got"), &mut diffs);
                if diffs.is_empty() {
                    diffs.push("same values, different key order".into());
                }
                failures.push(format!(
                    "result differs from expected.json:\n    {}",
                    diffs.join("\n    ")
                ));
            }
        }
        (Err(actual), _, Some(expected)) => {
            if *actual != expected {
                failures.push(format!(
                    "error differs from expected-error.json:\n    expected {expected:?}\n    got      {actual:?}"
                ));
            }
        }
        (Ok(actual), None, _) => failures.push(format!(
            "expected an error, got a result: {}",
            actual.chars().take(200).collect::<String>()
        )),
        (Err(actual), _, None) => failures.push(format!("expected a result, got an error: {actual:?}")),
    }
    if !failures.is_empty() {
        if !execution.stderr.is_empty() {
            failures.push(format!("guest stderr:\n{}", execution.stderr));
        }
        bail!(failures.join("\n  "));
    }
    Ok(Outcome {
        elapsed,
        clock_elapsed: execution.clock_elapsed,
        requests: execution.journal.sent.len(),
    })
}

/// A scratch copy of a scenario's documents folder, removed when dropped: what a
/// run serves as its document store, so a created document never lands in `tests/`.
pub struct ScratchDocuments(PathBuf);

impl ScratchDocuments {
    pub fn copy_of(source: &Path) -> Result<ScratchDocuments> {
        static COPIES: AtomicU64 = AtomicU64::new(0);
        let n = COPIES.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("textract-scenario-documents-{}-{n}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let scratch = ScratchDocuments(dir);
        // Documents are one file per id: the folder is flat.
        for entry in std::fs::read_dir(source).with_context(|| format!("reading {}", source.display()))? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                std::fs::copy(entry.path(), scratch.0.join(entry.file_name()))
                    .with_context(|| format!("copying {}", entry.path().display()))?;
            }
        }
        Ok(scratch)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDocuments {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// When the result is a reference to a document the folder store created, why it
/// does not name stored bytes that hash to its `contentHash` (or `None`).
fn created_document_problem(result: &Value, scratch: Option<&ScratchDocuments>) -> Option<String> {
    if result.get("camunda.document.type").and_then(Value::as_str) != Some("camunda")
        || result.get("storeId").and_then(Value::as_str) != Some(FOLDER_STORE_ID)
    {
        return None;
    }
    let Some(scratch) = scratch else {
        return Some("the result references a stored document, but the scenario has no documents folder".into());
    };
    let id = result.get("documentId").and_then(Value::as_str).unwrap_or_default();
    let bytes = match crate::engine::documents::plain_id(id).map(|()| std::fs::read(scratch.0.join(id))) {
        Ok(Ok(bytes)) => bytes,
        _ => return Some(format!("the result references document {id:?}, which the store does not hold")),
    };
    let hash = textract_connector::platform::documents::sha256_hex(&bytes);
    let size = result.pointer("/metadata/size").and_then(Value::as_u64);
    if result.get("contentHash").and_then(Value::as_str) != Some(hash.as_str()) || size != Some(bytes.len() as u64) {
        return Some(format!(
            "the stored document {id} ({} bytes, SHA-256 {hash}) is not the one its reference describes",
            bytes.len()
        ));
    }
    None
}

fn read_json(path: &Path) -> Result<Option<Value>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?,
        )),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_created_document_must_be_the_one_its_reference_describes() {
        let source = std::env::temp_dir().join(format!("textract-scenario-source-{}", std::process::id()));
        std::fs::create_dir_all(&source).unwrap();
        std::fs::write(source.join("doc-1"), b"input").unwrap();
        let scratch = ScratchDocuments::copy_of(&source).unwrap();
        let stored = b"{\"blocks\":[]}";
        let hash = textract_connector::platform::documents::sha256_hex(stored);
        std::fs::write(scratch.0.join(&hash), stored).unwrap();
        let reference = |id: &str, hash: &str, size: usize| {
            json!({"camunda.document.type": "camunda", "storeId": "local", "documentId": id, "contentHash": hash,
                   "metadata": {"contentType": "application/json", "size": size, "fileName": "r.json"}})
        };
        assert_eq!(created_document_problem(&reference(&hash, &hash, 13), Some(&scratch)), None);
        assert!(created_document_problem(&reference(&hash, &"0".repeat(64), 13), Some(&scratch)).is_some());
        assert!(created_document_problem(&reference(&hash, &hash, 12), Some(&scratch)).is_some());
        assert!(created_document_problem(&reference("missing", &hash, 13), Some(&scratch)).is_some());
        assert!(created_document_problem(&reference("../doc-1", &hash, 13), Some(&scratch)).is_some());
        assert!(created_document_problem(&reference(&hash, &hash, 13), None).is_some());
        // Not a reference of the folder store: not its business.
        assert_eq!(created_document_problem(&json!({"blocks": []}), None), None);
        // The scratch copy goes; the source stays as it was.
        let copy = scratch.0.clone();
        drop(scratch);
        assert!(!copy.exists());
        assert_eq!(std::fs::read_dir(&source).unwrap().count(), 1);
        std::fs::remove_dir_all(&source).ok();
    }
}
