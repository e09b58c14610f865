//! `run-many`: many inputs at once, each in its own store and sandbox, sharing
//! only the compiled component. This is the multi-tenant model: one tenant's
//! execution cannot see another's data, and one that fails or passes a limit
//! leaves the others unharmed.

use crate::engine::documents::FolderStore;
use crate::engine::sandbox::{Grants, RuntimeMode};
use crate::engine::{ExecOptions, ExecutionClock, Harness};
use crate::limits::Limits;
use crate::outcome::{input_text, GuestError};
use crate::transport::cassette::Cassette;
use crate::transport::egress::EgressPolicy;
use crate::transport::{Mode, Replayer};
use anyhow::{anyhow, Context as _, Result};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Plan {
    pub inputs: PathBuf,
    pub output: PathBuf,
    pub concurrency: usize,
    /// Replay each input from the cassette with the same file name here; live otherwise.
    pub replay_dir: Option<PathBuf>,
    pub documents: Option<PathBuf>,
    pub runtime: RuntimeMode,
    pub grants: Grants,
    pub limits: Limits,
    /// The egress policy for one input.
    pub policy: Arc<dyn Fn(&str) -> EgressPolicy + Send + Sync>,
}

/// One execution's line in the summary.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    /// `ok`, `kind/code` for an execution error, or `failed: why` when it could not run.
    pub outcome: String,
    pub elapsed: Duration,
    pub requests: usize,
    pub peak_memory_bytes: usize,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub rows: Vec<Row>,
    pub elapsed: Duration,
}

impl Report {
    pub fn ok(&self) -> usize {
        self.rows.iter().filter(|r| r.outcome == "ok").count()
    }

    /// Whether any input could not be run at all (a harness failure, not an execution error).
    pub fn failed_to_run(&self) -> bool {
        self.rows.iter().any(|r| r.outcome.starts_with("failed"))
    }

    pub fn table(&self) -> String {
        let width = self.rows.iter().map(|r| r.name.len()).max().unwrap_or(5).max(5);
        let mut out = format!(
            "{:<width$}  {:<40}  {:>9}  {:>8}  {:>9}\n",
            "input", "outcome", "ms", "requests", "peak MiB"
        );
        for r in &self.rows {
            out.push_str(&format!(
                "{:<width$}  {:<40}  {:>9.1}  {:>8}  {:>9.1}\n",
                r.name,
                r.outcome.chars().take(40).collect::<String>(),
                r.elapsed.as_secs_f64() * 1e3,
                r.requests,
                r.peak_memory_bytes as f64 / (1 << 20) as f64
            ));
        }
        let errors = self
            .rows
            .iter()
            .filter(|r| r.outcome != "ok" && !r.outcome.starts_with("failed"))
            .count();
        let failed = self.rows.iter().filter(|r| r.outcome.starts_with("failed")).count();
        out.push_str(&format!(
            "{} executions: {} ok, {errors} errors, {failed} failed to run; {:.2} s, {:.1} executions/s, peak RSS {:.1} MiB",
            self.rows.len(),
            self.ok(),
            self.elapsed.as_secs_f64(),
            self.rows.len() as f64 / self.elapsed.as_secs_f64().max(1e-9),
            peak_rss_bytes() as f64 / (1 << 20) as f64
        ));
        out
    }
}

/// This process's peak resident memory (Linux `VmHWM`; 0 elsewhere).
pub fn peak_rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<usize>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

pub async fn run(harness: Arc<Harness>, plan: Plan) -> Result<Report> {
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&plan.inputs)
        .with_context(|| format!("reading {}", plan.inputs.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    inputs.sort();
    std::fs::create_dir_all(&plan.output).with_context(|| format!("creating {}", plan.output.display()))?;

    let plan = Arc::new(plan);
    let started = Instant::now();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(plan.concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, path) in inputs.into_iter().enumerate() {
        let (harness, plan, semaphore) = (harness.clone(), plan.clone(), semaphore.clone());
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            (index, one(&harness, &plan, &path).await)
        });
    }
    let mut rows = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        rows.push(joined.map_err(|e| anyhow!("an execution task failed: {e}"))?);
    }
    rows.sort_by_key(|(index, _)| *index);
    Ok(Report {
        rows: rows.into_iter().map(|(_, row)| row).collect(),
        elapsed: started.elapsed(),
    })
}

async fn one(harness: &Harness, plan: &Plan, path: &Path) -> Row {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let started = Instant::now();
    let failed = |why: String| Row {
        name: name.clone(),
        outcome: format!("failed: {why}"),
        elapsed: started.elapsed(),
        requests: 0,
        peak_memory_bytes: 0,
    };
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => return failed(format!("cannot read the input ({e})")),
    };
    let input = match input_text(bytes) {
        Ok(text) => text,
        // The tenant's error, written like the guest's own; the batch goes on.
        Err(e) => {
            return Row {
                outcome: write_outcome(&plan.output, &name, &Err(e)),
                name,
                elapsed: started.elapsed(),
                requests: 0,
                peak_memory_bytes: 0,
            }
        }
    };
    let (mode, clock, replayer) = match &plan.replay_dir {
        Some(dir) => {
            let cassette_path = dir.join(path.file_name().unwrap_or_default());
            let cassette = match Cassette::load(&cassette_path) {
                Ok(c) => c,
                Err(e) => return failed(format!("{e:#}")),
            };
            let time = match cassette.replay_time(None) {
                Ok(t) => t,
                Err(e) => return failed(format!("{e:#}")),
            };
            let replayer = Arc::new(Mutex::new(Replayer::new(cassette, dir.clone())));
            (
                Mode::Replay(replayer.clone()),
                ExecutionClock::pinned(time),
                Some(replayer),
            )
        }
        None => (Mode::Live, ExecutionClock::real(), None),
    };
    let options = ExecOptions {
        mode,
        policy: (plan.policy)(&input),
        clock,
        inherit_stderr: false,
        deterministic_random: replayer.is_some(),
        documents: plan.documents.clone().map(FolderStore::shared),
        runtime: plan.runtime,
        grants: plan.grants.clone(),
        limits: plan.limits,
    };
    let execution = match harness.execute(&input, options).await {
        Ok(e) => e,
        Err(e) => return failed(format!("{e:#}")),
    };
    let mut problems = execution.journal.problems.clone();
    if let Some(r) = &replayer {
        problems.extend(r.lock().map(|r| r.unused()).unwrap_or_default());
    }
    let written = write_outcome(&plan.output, &name, &execution.outcome);
    let outcome = match problems.first() {
        Some(problem) => format!("failed: {}", problem.lines().next().unwrap_or("")),
        None => written,
    };
    Row {
        name,
        outcome,
        elapsed: started.elapsed(),
        requests: execution.journal.sent.len(),
        peak_memory_bytes: execution.peak_memory_bytes,
    }
}

/// Writes `NAME.json` or `NAME.error.json` into `dir`. Returns the row's
/// outcome: `ok`, `kind/code`, or `failed: ...` when the file could not be written.
fn write_outcome(dir: &Path, name: &str, outcome: &std::result::Result<String, GuestError>) -> String {
    let (file, text, label) = match outcome {
        Ok(json) => (format!("{name}.json"), json.clone(), "ok".to_string()),
        Err(e) => (
            format!("{name}.error.json"),
            serde_json::json!({ "error": e }).to_string(),
            format!("{}/{}", e.kind, e.code),
        ),
    };
    match std::fs::write(dir.join(&file), format!("{text}\n")) {
        Ok(()) => label,
        Err(e) => format!("failed: cannot write {file} ({e})"),
    }
}
