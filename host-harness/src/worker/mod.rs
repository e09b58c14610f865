//! `textract-host worker`: the component as a Camunda 8 job worker. It takes
//! jobs of one type from a cluster's REST API (a long poll that asks only for
//! as many jobs as there are free execution slots), runs each in its own
//! sandboxed instance, and completes or fails it. Zeebe is the scheduler: more
//! capacity is more worker processes against the same cluster, each taking
//! what it can run. The loop here only keeps slots full, waits out a cluster
//! that is away, and stops cleanly: on shutdown it activates nothing more and
//! gives running jobs a grace period; a job not finished by then is left to its
//! broker timeout, never completed twice and never lost.

pub mod client;
pub mod connection;
pub mod documents;
pub mod job;
pub mod log;
pub mod metrics;
pub mod semantics;
pub mod tenants;

use crate::engine::sandbox::{Grants, RuntimeMode};
use crate::engine::{ExecOptions, ExecutionClock, Harness};
use crate::limits::Limits;
use crate::transport::egress::EgressPolicy;
use crate::transport::Mode;
use client::{Activation, CamundaClient, ClusterError};
use job::{ActivatedJob, Reply};
use semantics::secrets::SecretSource;
use log::Line;
use metrics::Metrics;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Semaphore;

/// The job type of Camunda's AWS Textract connector, which the worker serves by default.
pub const JOB_TYPE: &str = "io.camunda:aws-textract:1";

/// What every execution is granted, and its egress policy for one input.
#[derive(Clone)]
pub struct Sandbox {
    pub runtime: RuntimeMode,
    pub grants: Grants,
    pub limits: Limits,
    pub policy: Arc<dyn Fn(&str) -> EgressPolicy + Send + Sync>,
}

/// One activation loop: the jobs of some tenants (none named: the cluster's
/// default tenant), at most `concurrency` of them at once, each run under the
/// lane's sandbox and with the lane's secrets. With a tenant policy file
/// every tenant has a lane of its own, so tenants never wait on each other.
#[derive(Clone)]
pub struct Lane {
    pub tenant_ids: Vec<String>,
    pub concurrency: usize,
    pub sandbox: Sandbox,
    pub secrets: Arc<SecretSource>,
}

#[derive(Clone)]
pub struct WorkerOptions {
    pub job_type: String,
    pub worker_name: String,
    /// Executions at once in this process, over all lanes.
    pub concurrency: usize,
    /// How long the cluster gives this worker for one job.
    pub job_timeout: Duration,
    /// How long one activation request is held open when there is no work.
    pub request_timeout: Duration,
    pub shutdown_grace: Duration,
    /// Activate one batch per lane, run it, and stop.
    pub once: bool,
    pub lanes: Vec<Lane>,
}

/// How long a stopping worker still waits for an activation already under way.
const ANSWER_WAIT: Duration = Duration::from_secs(1);

/// The time a reply needs to reach the cluster before the job's deadline.
const REPLY_MARGIN: Duration = Duration::from_secs(1);

/// What one worker run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub activated: usize,
    pub completed: usize,
    /// Failed with retries left.
    pub failed: usize,
    /// Failed with no retries left: an incident.
    pub incidents: usize,
    pub bpmn_errors: usize,
    /// Replies the cluster answered with 404 (the job had timed out or was cancelled).
    pub dropped: usize,
    /// Jobs left to their broker timeout: not finished within the shutdown grace,
    /// past their deadline before they ran, or a reply the cluster never took.
    pub left: usize,
    /// With `--once`: why the cluster refused the activation (bad credentials, ...).
    pub refused: Option<String>,
}

#[derive(Default)]
struct Counts {
    activated: AtomicUsize,
    completed: AtomicUsize,
    failed: AtomicUsize,
    incidents: AtomicUsize,
    bpmn_errors: AtomicUsize,
    dropped: AtomicUsize,
    left: AtomicUsize,
}

impl Counts {
    fn report(&self) -> Report {
        let get = |c: &AtomicUsize| c.load(Ordering::Relaxed);
        Report {
            activated: get(&self.activated),
            completed: get(&self.completed),
            failed: get(&self.failed),
            incidents: get(&self.incidents),
            bpmn_errors: get(&self.bpmn_errors),
            dropped: get(&self.dropped),
            left: get(&self.left),
            refused: None,
        }
    }
}

struct Shared {
    harness: Arc<Harness>,
    client: Arc<CamundaClient>,
    metrics: Arc<Metrics>,
    options: WorkerOptions,
    counts: Counts,
    /// The process-wide cap on executions at once.
    executions: Arc<Semaphore>,
}

/// Runs until `shutdown` resolves (or after one batch per lane with `once`).
pub async fn run(
    harness: Arc<Harness>,
    client: Arc<CamundaClient>,
    metrics: Arc<Metrics>,
    options: WorkerOptions,
    shutdown: impl Future<Output = ()>,
) -> Report {
    let concurrency = options.concurrency.max(1);
    let lanes = options.lanes.clone();
    let shared = Arc::new(Shared {
        harness,
        client,
        metrics,
        options,
        counts: Counts::default(),
        executions: Arc::new(Semaphore::new(concurrency)),
    });
    Line::new("worker-started")
        .field("cluster", shared.client.address())
        .field("type", &shared.options.job_type)
        .field("worker", &shared.options.worker_name)
        .field("concurrency", concurrency)
        .field("lanes", lanes.len())
        .emit();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut loops = tokio::task::JoinSet::new();
    for lane in lanes {
        loops.spawn(run_lane(shared.clone(), Arc::new(lane), stopped.clone()));
    }
    let mut refused = None;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => {
                let _ = stop.send(true);
                break;
            }
            joined = loops.join_next() => match joined {
                Some(Ok(Some(why))) => refused = Some(why),
                Some(_) => {}
                None => break,
            },
        }
    }
    while let Some(joined) = loops.join_next().await {
        if let Ok(Some(why)) = joined {
            refused = Some(why);
        }
    }
    let report = Report {
        refused,
        ..shared.counts.report()
    };
    Line::new("worker-stopped")
        .field("activated", report.activated)
        .field("completed", report.completed)
        .field("failed", report.failed)
        .field("incidents", report.incidents)
        .field("bpmn_errors", report.bpmn_errors)
        .field("dropped", report.dropped)
        .field("left", report.left)
        .field("peak_rss_mib", crate::cli::many::peak_rss_bytes() >> 20)
        .emit();
    report
}

/// One lane's activation loop, then its drain within the shutdown grace.
/// With `--once`: why the cluster refused the activation, if it did.
async fn run_lane(shared: Arc<Shared>, lane: Arc<Lane>, mut stopped: tokio::sync::watch::Receiver<bool>) -> Option<String> {
    let slots = Arc::new(Semaphore::new(lane.concurrency.max(1)));
    let mut running = tokio::task::JoinSet::new();
    let mut cluster = ClusterState::default();
    let mut refused = None;
    let stop = async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    tokio::pin!(stop);

    loop {
        // Wait for a free slot, then take every slot that is free.
        let mut permits = tokio::select! {
            permit = slots.clone().acquire_many_owned(1) => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut stop => break,
        };
        let free = slots.available_permits();
        if free > 0 {
            if let Ok(more) = slots.clone().try_acquire_many_owned(u32::try_from(free).unwrap_or(u32::MAX)) {
                permits.merge(more);
            }
        }
        let activation = Activation {
            job_type: shared.options.job_type.clone(),
            worker: shared.options.worker_name.clone(),
            timeout: shared.options.job_timeout,
            max_jobs: permits.num_permits(),
            request_timeout: shared.options.request_timeout,
            tenant_ids: lane.tenant_ids.clone(),
        };
        // Stopping while the cluster may already be answering: take that answer
        // (briefly), so its jobs run now instead of waiting out their timeout.
        let activate = shared.client.activate(&activation);
        tokio::pin!(activate);
        let mut stopping = false;
        let answer = tokio::select! {
            answer = &mut activate => answer,
            () = &mut stop => match tokio::time::timeout(ANSWER_WAIT.min(shared.options.shutdown_grace), &mut activate).await {
                Ok(answer) => {
                    stopping = true;
                    answer
                }
                Err(_) => break,
            },
        };
        match answer {
            Ok(jobs) => {
                cluster.answered(&shared.metrics);
                for job in jobs {
                    // The cluster never hands out more than asked; a stand-in that did would wait.
                    let permit = match permits.split(1) {
                        Some(p) => p,
                        None => match slots.clone().acquire_owned().await {
                            Ok(p) => p,
                            Err(_) => break,
                        },
                    };
                    shared.counts.activated.fetch_add(1, Ordering::Relaxed);
                    shared.metrics.activated.get_or_create(&Metrics::tenant(job.tenant())).inc();
                    let (shared, lane) = (shared.clone(), lane.clone());
                    running.spawn(async move {
                        run_job(&shared, &lane, job).await;
                        drop(permit);
                    });
                }
            }
            Err(ClusterError::Unavailable(why)) => {
                drop(permits);
                let delay = cluster.away(&why);
                tokio::select! {
                    () = tokio::time::sleep(delay) => {},
                    () = &mut stop => break,
                }
                // Even with --once: a batch is what was asked for, and the cluster will be back.
                continue;
            }
            Err(other) if shared.options.once => {
                cluster.away(&other.to_string());
                refused = Some(other.to_string());
                break;
            }
            Err(other) => {
                // A refusal (bad credentials, a request the cluster rejects) will not pass
                // by itself quickly; it is logged once per state change and retried slowly.
                drop(permits);
                let delay = cluster.away(&other.to_string()).max(Duration::from_secs(5));
                tokio::select! {
                    () = tokio::time::sleep(delay) => {},
                    () = &mut stop => break,
                }
            }
        }
        while running.try_join_next().is_some() {}
        if shared.options.once || stopping {
            break;
        }
    }

    // Nothing more is activated; running jobs get the grace period.
    let in_flight = running.len();
    if in_flight > 0 {
        Line::new("worker-stopping")
            .field("in_flight", in_flight)
            .field("grace_ms", shared.options.shutdown_grace.as_millis())
            .emit();
    }
    let drained = tokio::time::timeout(shared.options.shutdown_grace, async {
        while running.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        let left = running.len();
        running.abort_all();
        shared.counts.left.fetch_add(left, Ordering::Relaxed);
        Line::new("worker-grace-over").field("left_to_timeout", left).emit();
    }
    refused
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Runs one job in its own instance and replies for it.
async fn run_job(shared: &Shared, lane: &Lane, job: ActivatedJob) {
    let line = |event: &str| {
        Line::new(event)
            .field("job", &job.job_key)
            .field("process_instance", job.process_instance_key.as_deref().unwrap_or("-"))
            .field("tenant", job.tenant())
    };
    // The tenant is the job's, as the cluster says; a job of a tenant this lane
    // does not serve is not run under this lane's policy, nor failed: it is left.
    if !lane.tenant_ids.is_empty() && !lane.tenant_ids.iter().any(|t| t == job.tenant()) {
        shared.counts.left.fetch_add(1, Ordering::Relaxed);
        line("job-refused").field("why", "its tenant is not this lane's").emit();
        return;
    }
    // The process-wide cap; the wait counts against the job's deadline below.
    let Ok(_execution) = shared.executions.clone().acquire_owned().await else {
        return;
    };
    // The execution ends before the broker gives the job to someone else.
    let remaining = Duration::from_millis(u64::try_from(job.deadline - now_millis()).unwrap_or(0));
    let Some(budget) = remaining.checked_sub(REPLY_MARGIN).filter(|b| !b.is_zero()) else {
        shared.counts.left.fetch_add(1, Ordering::Relaxed);
        line("job-skipped").field("why", "its deadline passed before it could run").emit();
        return;
    };
    let sandbox = &lane.sandbox;
    let limits = Limits {
        timeout: sandbox.limits.timeout.min(budget),
        ..sandbox.limits
    };
    // The job's variables, all of them, with the tenant's secrets, are the connector's input.
    let mut variables = match &job.variables {
        serde_json::Value::Null => serde_json::json!({}),
        v => v.clone(),
    };
    let used = match semantics::secrets::substitute(&mut variables, &lane.secrets) {
        Ok(used) => used,
        Err(why) => {
            let reply = Reply::Fail {
                retries: 0,
                message: why,
                backoff: Duration::ZERO,
                variables: None,
            };
            finish(shared, &job, &reply, Some("invalid-input".into()), Duration::ZERO, &line).await;
            return;
        }
    };
    let input = variables.to_string();
    drop(variables);
    let started = Instant::now();
    shared.metrics.in_flight.inc();
    let execution = shared
        .harness
        .execute(
            &input,
            ExecOptions {
                mode: Mode::Live,
                policy: (sandbox.policy)(&input),
                clock: ExecutionClock::real(),
                inherit_stderr: false,
                deterministic_random: false,
                documents: Some(Arc::new(documents::ClusterStore {
                    client: shared.client.clone(),
                })),
                runtime: sandbox.runtime,
                grants: sandbox.grants.clone(),
                limits,
            },
        )
        .await;
    shared.metrics.in_flight.dec();
    let elapsed = started.elapsed();
    shared.metrics.duration.observe(elapsed.as_secs_f64());

    let (reply, kind) = match execution {
        Err(e) => {
            // The harness could not run it at all: the runtime's defect, not the tenant's.
            let error = crate::outcome::GuestError {
                kind: "internal".into(),
                code: "RuntimeFailure".into(),
                message: format!("The runtime could not run the connector: {e}"),
                retryable: false,
            };
            let kind = error.kind.clone();
            (semantics::reply(&job, Err(error), &used), Some(kind))
        }
        Ok(execution) => {
            for text in execution.stderr.lines().filter(|l| !l.trim().is_empty()) {
                line("guest-log").field("line", used.mask(text)).emit();
            }
            let outcome = execution.outcome.and_then(|result| {
                serde_json::from_str(&result).map_err(|e| crate::outcome::GuestError {
                    kind: "internal".into(),
                    code: "InvalidResult".into(),
                    message: format!("The connector's result is not JSON: {e}"),
                    retryable: false,
                })
            });
            let kind = outcome.as_ref().err().map(|e| e.kind.clone());
            (semantics::reply(&job, outcome, &used), kind)
        }
    };
    finish(shared, &job, &reply, kind, elapsed, &line).await;
}

/// Sends the reply, counts it and logs the job's line.
async fn finish(
    shared: &Shared,
    job: &ActivatedJob,
    reply: &Reply,
    kind: Option<String>,
    elapsed: Duration,
    line: &(dyn Fn(&str) -> Line + Sync),
) {
    let sent = send_reply(shared, job, reply).await;
    let label = match &sent {
        Sent::Done => reply.label(),
        Sent::Gone => "dropped",
        Sent::Refused(_) | Sent::GaveUp => "left",
    };
    let counter = match label {
        "completed" => &shared.counts.completed,
        "failed" => &shared.counts.failed,
        "incident" => &shared.counts.incidents,
        "bpmn-error" => &shared.counts.bpmn_errors,
        "dropped" => &shared.counts.dropped,
        _ => &shared.counts.left,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    match (&sent, &kind, reply) {
        (Sent::Done, _, Reply::Complete { .. }) => {
            shared.metrics.completed.get_or_create(&Metrics::tenant(job.tenant())).inc();
        }
        (Sent::Done, kind, _) => {
            let kind = kind.as_deref().unwrap_or("expression");
            shared.metrics.failed.get_or_create(&Metrics::failure(job.tenant(), kind)).inc();
        }
        _ => {}
    }
    let mut l = line("job-finished").field("outcome", label).field("ms", elapsed.as_millis());
    match reply {
        Reply::Fail { retries, message, .. } => l = l.field("retries", retries).field("error", message),
        Reply::Error { code, .. } => l = l.field("error_code", code),
        Reply::Complete { .. } => {}
    }
    match &sent {
        Sent::Refused(why) => l = l.field("reply_refused", why),
        Sent::Gone => l = l.field("why", "the job had timed out or was cancelled"),
        Sent::GaveUp => l = l.field("why", "the cluster did not take the reply before the job's deadline"),
        Sent::Done => {}
    }
    l.emit();
}

enum Sent {
    Done,
    /// 404: the job is no longer this worker's.
    Gone,
    Refused(String),
    /// The cluster stayed away until the job's deadline.
    GaveUp,
}

/// Sends the reply, retrying while the cluster is away and the job still ours.
async fn send_reply(shared: &Shared, job: &ActivatedJob, reply: &Reply) -> Sent {
    let mut backoff = Backoff::default();
    loop {
        match shared.client.reply(&job.job_key, reply).await {
            Ok(()) => return Sent::Done,
            Err(ClusterError::NotFound(_)) => return Sent::Gone,
            Err(ClusterError::Rejected(why)) => return Sent::Refused(why),
            Err(ClusterError::Unavailable(_)) if now_millis() >= job.deadline => return Sent::GaveUp,
            Err(ClusterError::Unavailable(_)) => tokio::time::sleep(backoff.next()).await,
        }
    }
}

/// Capped exponential backoff with jitter: 100 ms doubling to 10 s, each wait
/// drawn between half and all of its step, so workers do not retry in step.
#[derive(Default)]
struct Backoff {
    attempt: u32,
    seed: u64,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const CAP: Duration = Duration::from_secs(10);

    fn next(&mut self) -> Duration {
        let step = Self::FIRST.saturating_mul(1 << self.attempt.min(10)).min(Self::CAP);
        self.attempt += 1;
        if self.seed == 0 {
            self.seed = u64::from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().subsec_nanos()) | 1;
        }
        // xorshift: good enough to spread retries, no crate needed.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let fraction = 0.5 + (self.seed % 1000) as f64 / 2000.0;
        step.mul_f64(fraction)
    }

    fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// Whether the cluster answers: one log line per change of state, not per attempt.
#[derive(Default)]
struct ClusterState {
    away_since: Option<(Instant, usize)>,
    backoff: Backoff,
}

impl ClusterState {
    fn answered(&mut self, metrics: &Metrics) {
        metrics.healthy.store(true, Ordering::Relaxed);
        if let Some((since, attempts)) = self.away_since.take() {
            Line::new("cluster-back")
                .field("after_ms", since.elapsed().as_millis())
                .field("attempts", attempts)
                .emit();
        }
        self.backoff.reset();
    }

    fn away(&mut self, why: &str) -> Duration {
        match &mut self.away_since {
            Some((_, attempts)) => *attempts += 1,
            None => {
                Line::new("cluster-away")
                    .field("why", why)
                    .field("retrying", "with backoff up to 10 s")
                    .emit();
                self.away_since = Some((Instant::now(), 1));
            }
        }
        self.backoff.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter() {
        let mut b = Backoff::default();
        let waits: Vec<Duration> = (0..12).map(|_| b.next()).collect();
        assert!(waits[0] >= Duration::from_millis(50) && waits[0] <= Duration::from_millis(100));
        assert!(waits[3] >= Duration::from_millis(400) && waits[3] <= Duration::from_millis(800));
        assert!(waits.iter().all(|w| *w <= Backoff::CAP));
        assert!(waits[11] >= Backoff::CAP / 2);
        b.reset();
        assert!(b.next() <= Duration::from_millis(100));
    }
}
