//! A strict stand-in for the Camunda 8 Orchestration Cluster REST API (v2), for
//! the job worker's tests and bench. Production always talks to a real cluster;
//! this double exists because no Zeebe broker can be installed here. It serves,
//! on loopback only, the job endpoints (`POST /v2/jobs/activation` with long
//! polling, `/v2/jobs/{jobKey}/completion`, `/failure`, `/error`), the document
//! endpoints (`GET /v2/documents/{documentId}`, `POST /v2/documents`) and, in
//! OAuth mode, a client-credentials token endpoint. It checks what the OpenAPI
//! spec (`zeebe/gateway-protocol/src/main/proto/rest-api.yaml` and its split
//! `paths/jobs.yaml`, `paths/documents.yaml`, `schemas/jobs/job-models.yaml`,
//! `schemas/documents/document-models.yaml` in camunda/camunda) states:
//! required fields, JSON types and integer ranges, no unknown properties where
//! the schema says `additionalProperties: false`, `application/json` (and
//! `multipart/form-data`) request media types, `LongKey` path keys, the
//! `TenantId` pattern, and the credentials of the chosen auth mode. Errors are
//! RFC 9457 problems (`application/problem+json`). Jobs follow Zeebe's
//! lifecycle (activatable, activated until the deadline, completed, failed with
//! back-off, incident at zero retries, error thrown). Every request it answers
//! with an error (and every tolerated deviation from the spec) lands in
//! [`CamundaStandIn::violations`], so a test can assert there was none. Faults
//! (`fail_next`, `set_unavailable`, `set_delay`) are injected on demand.

use anyhow::{anyhow, Context as _, Result};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, ALLOW, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Map, Value};
use std::collections::hash_map::RandomState;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use wasmtime_wasi_http::io::TokioIo;

/// The tenant of everything when multi-tenancy is off.
pub const DEFAULT_TENANT: &str = "<default>";
/// Zeebe's first key on partition 1: `(1 << 51) + 1`.
const KEY_BASE: i64 = 2_251_799_813_685_249;
const PROCESS_DEFINITION_ID: &str = "textract-process";
const ELEMENT_ID: &str = "textract-task";
/// How often a waiting long poll looks at the clock (deadlines, back-offs).
const POLL_STEP: Duration = Duration::from_millis(20);

/// How clients must authenticate, chosen at start.
#[derive(Clone)]
pub enum AuthMode {
    /// No `Authorization` needed (any is ignored, as with authentication off).
    None,
    /// `Authorization: Basic base64(user:password)`.
    Basic { user: String, password: String },
    /// `Authorization: Bearer <token>` with a token from `POST /oauth/token`.
    /// An empty `audience` is not checked.
    OAuth {
        client_id: String,
        client_secret: String,
        audience: String,
        token_ttl: Duration,
    },
}

impl fmt::Debug for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthMode::None => write!(f, "None"),
            AuthMode::Basic { user, .. } => write!(f, "Basic {{ user: {user:?}, password: <redacted> }}"),
            AuthMode::OAuth { client_id, audience, token_ttl, .. } => write!(
                f,
                "OAuth {{ client_id: {client_id:?}, client_secret: <redacted>, audience: {audience:?}, token_ttl: {token_ttl:?} }}"
            ),
        }
    }
}

/// The stand-in's settings.
#[derive(Clone, Debug)]
pub struct StandInConfig {
    pub auth: AuthMode,
    /// Off (the default): only `<default>` exists and `tenantIds` may name no
    /// other. On: `tenantIds` is required (or `tenantFilter: "ASSIGNED"`).
    pub multi_tenancy: bool,
    /// The long poll used for `requestTimeout` 0 or absent (the gateway's 10 s).
    pub default_request_timeout: Duration,
    /// No long poll lasts longer than this, whatever `requestTimeout` asks.
    pub max_request_timeout: Duration,
    /// The document store's id (the in-memory store's is `in-memory`).
    pub store_id: String,
    /// Off (the engine's behaviour): completing, failing or throwing an error
    /// for an activatable job (timed out, not re-activated) is accepted and
    /// recorded as `stale`. On: answered 404, as for a job that is gone.
    pub reject_not_activated: bool,
    /// Larger request bodies are answered 413.
    pub max_body_bytes: usize,
}

impl Default for StandInConfig {
    fn default() -> Self {
        StandInConfig {
            auth: AuthMode::None,
            multi_tenancy: false,
            default_request_timeout: Duration::from_secs(10),
            max_request_timeout: Duration::from_secs(60),
            store_id: "in-memory".to_string(),
            reject_not_activated: false,
            max_body_bytes: 64 << 20,
        }
    }
}

/// A job to create.
#[derive(Clone, Debug)]
pub struct JobSpec {
    pub job_type: String,
    pub variables: Value,
    pub custom_headers: BTreeMap<String, String>,
    pub tenant_id: String,
    pub retries: i32,
}

impl JobSpec {
    /// A job of `job_type` for the default tenant, with 3 retries and no headers.
    pub fn new(job_type: &str, variables: Value) -> Self {
        JobSpec {
            job_type: job_type.to_string(),
            variables,
            custom_headers: BTreeMap::new(),
            tenant_id: DEFAULT_TENANT.to_string(),
            retries: 3,
        }
    }
}

/// Where a job is in its lifecycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobState {
    Activatable,
    Activated {
        worker: String,
        deadline_ms: i64,
    },
    Completed,
    /// Failed with retries left; activatable again at `until_ms`.
    FailedBackoff {
        until_ms: i64,
    },
    /// Failed with no retries left: never activated again.
    Incident {
        error_message: String,
    },
    ErrorThrown {
        error_code: String,
    },
}

/// A job as a test sees it.
#[derive(Clone, Debug)]
pub struct JobView {
    pub key: String,
    pub job_type: String,
    pub tenant_id: String,
    pub retries: i32,
    pub state: JobState,
    /// How many times it was handed out.
    pub activations: u32,
    /// Timed out while activated.
    pub timeouts: u32,
    pub variables: Value,
    pub custom_headers: BTreeMap<String, String>,
}

/// An accepted completion, failure or error.
#[derive(Clone, Debug)]
pub struct CommandRecord {
    pub key: String,
    /// The request body (`null` when there was none).
    pub body: Value,
    /// The worker of the job's latest activation.
    pub worker: String,
    pub at: SystemTime,
    /// The job was not activated (timed out) when the command came.
    pub stale: bool,
}

/// What kind of mistake a violation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViolationKind {
    /// Body not JSON, wrong types, missing or unknown fields, bad parameters (400).
    Schema,
    /// Wrong or missing Content-Type (415).
    MediaType,
    /// Missing or wrong credentials (401), or a refused token request.
    Auth,
    /// Unknown path (404) or method (405).
    Route,
    /// Unknown job or document (404), or a job in the wrong state (409).
    State,
    /// Accepted, but not what the spec says (e.g. `null` for a non-nullable field).
    Tolerated,
    /// Body too large (413).
    TooLarge,
}

/// A request the stand-in rejected, or accepted while it deviated from the spec.
#[derive(Clone, Debug)]
pub struct Violation {
    pub method: String,
    pub path: String,
    pub kind: ViolationKind,
    /// The status answered; `None` when the request was accepted.
    pub status: Option<u16>,
    pub detail: String,
}

impl Violation {
    pub fn rejected(&self) -> bool {
        self.status.is_some()
    }
}

/// Counts of the `Authorization` header kinds seen on `/v2` requests (never the values).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuthSeen {
    pub none: u64,
    pub basic: u64,
    pub bearer: u64,
    pub other: u64,
}

/// Everything a `wait_until` predicate can look at.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub jobs: Vec<JobView>,
    pub completions: Vec<CommandRecord>,
    pub failures: Vec<CommandRecord>,
    pub errors: Vec<CommandRecord>,
    pub violations: Vec<Violation>,
    pub activations: u64,
    pub activation_requests: u64,
    pub token_requests: u64,
}

impl Snapshot {
    pub fn job(&self, key: &str) -> Option<&JobView> {
        self.jobs.iter().find(|j| j.key == key)
    }
}

struct Job {
    key: i64,
    spec: JobSpec,
    process_instance_key: i64,
    element_instance_key: i64,
    retries: i32,
    state: JobState,
    worker: String,
    activations: u32,
    timeouts: u32,
}

struct StoredDoc {
    bytes: Vec<u8>,
    reference: Value,
}

struct State {
    cfg: StandInConfig,
    next_key: i64,
    jobs: BTreeMap<i64, Job>,
    completions: Vec<CommandRecord>,
    failures: Vec<CommandRecord>,
    errors: Vec<CommandRecord>,
    completion_attempts: BTreeMap<String, usize>,
    violations: Vec<Violation>,
    activations: u64,
    activation_requests: u64,
    requests: u64,
    tokens: BTreeMap<String, i64>,
    token_requests: u64,
    auth_seen: AuthSeen,
    documents: BTreeMap<String, StoredDoc>,
    fail_next: Option<(u32, u16)>,
    injected: u64,
    unavailable: bool,
    delay: Duration,
    random: RandomState,
    random_counter: u64,
}

struct Shared {
    state: Mutex<State>,
    notify: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl State {
    fn new(cfg: StandInConfig) -> Self {
        State {
            cfg,
            next_key: KEY_BASE + 1,
            jobs: BTreeMap::new(),
            completions: Vec::new(),
            failures: Vec::new(),
            errors: Vec::new(),
            completion_attempts: BTreeMap::new(),
            violations: Vec::new(),
            activations: 0,
            activation_requests: 0,
            requests: 0,
            tokens: BTreeMap::new(),
            token_requests: 0,
            auth_seen: AuthSeen::default(),
            documents: BTreeMap::new(),
            fail_next: None,
            injected: 0,
            unavailable: false,
            delay: Duration::ZERO,
            random: RandomState::new(),
            random_counter: 0,
        }
    }

    fn random_u64(&mut self) -> u64 {
        self.random_counter += 1;
        let mut h = self.random.build_hasher();
        h.write_u64(self.random_counter);
        h.write_i64(now_ms());
        h.finish()
    }

    fn key(&mut self) -> i64 {
        let k = self.next_key;
        self.next_key += 1;
        k
    }

    /// Applies the clock: expired activations and elapsed back-offs become
    /// activatable. True when some job did.
    fn tick(&mut self, now: i64) -> bool {
        let mut woke = false;
        for job in self.jobs.values_mut() {
            match job.state {
                JobState::Activated { deadline_ms, .. } if deadline_ms <= now => {
                    job.state = JobState::Activatable;
                    job.timeouts += 1;
                    woke = true;
                }
                JobState::FailedBackoff { until_ms } if until_ms <= now => {
                    job.state = JobState::Activatable;
                    woke = true;
                }
                _ => {}
            }
        }
        woke
    }

    fn view(job: &Job) -> JobView {
        JobView {
            key: job.key.to_string(),
            job_type: job.spec.job_type.clone(),
            tenant_id: job.spec.tenant_id.clone(),
            retries: job.retries,
            state: job.state.clone(),
            activations: job.activations,
            timeouts: job.timeouts,
            variables: job.spec.variables.clone(),
            custom_headers: job.spec.custom_headers.clone(),
        }
    }

    fn violation(&mut self, method: &str, path: &str, kind: ViolationKind, status: Option<u16>, detail: &str) {
        self.violations.push(Violation {
            method: method.to_string(),
            path: path.to_string(),
            kind,
            status,
            detail: detail.to_string(),
        });
    }

    fn grab(&mut self, req: &Activation, now: i64) -> Vec<Value> {
        let mut out = Vec::new();
        let deadline = now.saturating_add(req.timeout);
        for job in self.jobs.values_mut() {
            if out.len() >= req.max as usize {
                break;
            }
            if job.state != JobState::Activatable || job.spec.job_type != req.job_type {
                continue;
            }
            if let Some(tenants) = &req.tenants {
                if !tenants.contains(&job.spec.tenant_id) {
                    continue;
                }
            }
            job.state = JobState::Activated {
                worker: req.worker.clone(),
                deadline_ms: deadline,
            };
            job.activations += 1;
            job.worker = req.worker.clone();
            out.push(activated_job_json(job, deadline, req.fetch.as_deref()));
        }
        self.activations += out.len() as u64;
        out
    }

    fn put_document(&mut self, id: &str, bytes: Vec<u8>, metadata: Map<String, Value>) -> Value {
        let reference = json!({
            "camunda.document.type": "camunda",
            "storeId": self.cfg.store_id,
            "documentId": id,
            "contentHash": content_hash(&bytes),
            "metadata": Value::Object(metadata),
        });
        self.documents.insert(
            id.to_string(),
            StoredDoc {
                bytes,
                reference: reference.clone(),
            },
        );
        reference
    }

    fn document_id(&mut self) -> String {
        let a = self.random_u64();
        let b = self.random_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48 & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }
}

/// The content hash as Camunda's stores compute it: SHA-256 of the bytes, in hex
/// (the connector checks the bytes it reads against it).
fn content_hash(bytes: &[u8]) -> String {
    textract_connector::platform::documents::sha256_hex(bytes)
}

fn activated_job_json(job: &Job, deadline: i64, fetch: Option<&[String]>) -> Value {
    let variables = match (&job.spec.variables, fetch) {
        (Value::Object(all), Some(names)) if !names.is_empty() => Value::Object(
            all.iter()
                .filter(|(k, _)| names.iter().any(|n| n == *k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        (Value::Object(all), _) => Value::Object(all.clone()),
        _ => json!({}),
    };
    let headers: Map<String, Value> = job
        .spec
        .custom_headers
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({
        "type": job.spec.job_type,
        "processDefinitionId": PROCESS_DEFINITION_ID,
        "processDefinitionVersion": 1,
        "elementId": ELEMENT_ID,
        "customHeaders": headers,
        "worker": job.worker,
        "retries": job.retries,
        "deadline": deadline,
        "variables": variables,
        "tenantId": job.spec.tenant_id,
        "jobKey": job.key.to_string(),
        "processInstanceKey": job.process_instance_key.to_string(),
        "processDefinitionKey": KEY_BASE.to_string(),
        "elementInstanceKey": job.element_instance_key.to_string(),
        "kind": "BPMN_ELEMENT",
        "listenerEventType": "UNSPECIFIED",
        "tags": [],
    })
}

/// The running stand-in. Dropping it stops the server.
pub struct CamundaStandIn {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl fmt::Debug for CamundaStandIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CamundaStandIn").field("addr", &self.addr).finish()
    }
}

impl Drop for CamundaStandIn {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn bind_loopback() -> Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).context("binding 127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

impl CamundaStandIn {
    /// Serves on `127.0.0.1:<free port>` from a task of the current tokio runtime.
    pub fn start(cfg: StandInConfig) -> Result<Self> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| anyhow!("CamundaStandIn::start needs a tokio runtime; use start_in_thread from sync code"))?;
        let std_listener = bind_loopback()?;
        let addr = std_listener.local_addr()?;
        let listener = {
            let _guard = handle.enter();
            TcpListener::from_std(std_listener)?
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(cfg)),
            notify: Notify::new(),
        });
        let (shutdown, rx) = watch::channel(false);
        handle.spawn(accept_loop(listener, shared.clone(), rx));
        Ok(CamundaStandIn {
            shared,
            addr,
            shutdown,
            thread: None,
        })
    }

    /// Serves from a background thread that owns its own runtime: for sync
    /// tests (for example ones that spawn worker processes).
    pub fn start_in_thread(cfg: StandInConfig) -> Result<Self> {
        let std_listener = bind_loopback()?;
        let addr = std_listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(cfg)),
            notify: Notify::new(),
        });
        let (shutdown, rx) = watch::channel(false);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<std::result::Result<(), String>>();
        let served = shared.clone();
        let thread = std::thread::Builder::new()
            .name("camunda-stand-in".to_string())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match TcpListener::from_std(std_listener) {
                        Ok(listener) => {
                            let _ = ready_tx.send(Ok(()));
                            accept_loop(listener, served, rx).await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                        }
                    }
                });
            })?;
        let mut stand_in = CamundaStandIn {
            shared,
            addr,
            shutdown,
            thread: Some(thread),
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(stand_in),
            Ok(Err(e)) => Err(anyhow!("stand-in thread: {e}")),
            Err(_) => {
                stand_in.thread.take();
                Err(anyhow!("stand-in thread ended before serving"))
            }
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The REST base address, `http://127.0.0.1:PORT/v2`.
    pub fn url(&self) -> String {
        format!("http://{}/v2", self.addr)
    }

    /// The token endpoint, `http://127.0.0.1:PORT/oauth/token` (served in OAuth mode only).
    pub fn oauth_url(&self) -> String {
        format!("http://{}/oauth/token", self.addr)
    }

    /// Creates an activatable job; returns its key.
    pub fn create_job(&self, spec: JobSpec) -> String {
        let key = {
            let mut st = self.shared.lock();
            let key = st.key();
            let process_instance_key = st.key();
            let element_instance_key = st.key();
            let retries = spec.retries;
            st.jobs.insert(
                key,
                Job {
                    key,
                    spec,
                    process_instance_key,
                    element_instance_key,
                    retries,
                    state: JobState::Activatable,
                    worker: String::new(),
                    activations: 0,
                    timeouts: 0,
                },
            );
            key
        };
        self.shared.notify.notify_waiters();
        key.to_string()
    }

    pub fn job(&self, key: &str) -> Option<JobView> {
        let mut st = self.shared.lock();
        st.tick(now_ms());
        let key: i64 = key.parse().ok()?;
        st.jobs.get(&key).map(State::view)
    }

    pub fn jobs(&self) -> Vec<JobView> {
        let mut st = self.shared.lock();
        st.tick(now_ms());
        st.jobs.values().map(State::view).collect()
    }

    /// Accepted completions (204), in order.
    pub fn completions(&self) -> Vec<CommandRecord> {
        self.shared.lock().completions.clone()
    }

    /// Accepted failures (204), in order.
    pub fn failures(&self) -> Vec<CommandRecord> {
        self.shared.lock().failures.clone()
    }

    /// Accepted thrown errors (204), in order.
    pub fn errors(&self) -> Vec<CommandRecord> {
        self.shared.lock().errors.clone()
    }

    /// Completion requests per job key, accepted or not (a well-behaved worker has one each).
    pub fn completion_count_per_job(&self) -> BTreeMap<String, usize> {
        self.shared.lock().completion_attempts.clone()
    }

    /// Jobs handed out, over all activation requests.
    pub fn activations(&self) -> u64 {
        self.shared.lock().activations
    }

    /// Well-formed activation requests received.
    pub fn activation_requests(&self) -> u64 {
        self.shared.lock().activation_requests
    }

    /// Every request received (token requests included).
    pub fn requests(&self) -> u64 {
        self.shared.lock().requests
    }

    pub fn violations(&self) -> Vec<Violation> {
        self.shared.lock().violations.clone()
    }

    /// Violations that were answered with an error status.
    pub fn rejections(&self) -> Vec<Violation> {
        self.shared
            .lock()
            .violations
            .iter()
            .filter(|v| v.rejected())
            .cloned()
            .collect()
    }

    /// Token requests received (granted or not).
    pub fn token_requests(&self) -> u64 {
        self.shared.lock().token_requests
    }

    /// Makes every token issued so far invalid: their next use answers 401.
    pub fn expire_tokens_now(&self) {
        let mut st = self.shared.lock();
        for expiry in st.tokens.values_mut() {
            *expiry = 0;
        }
    }

    pub fn auth_seen(&self) -> AuthSeen {
        self.shared.lock().auth_seen
    }

    /// The next `n` `/v2` requests are answered `status` with a problem body
    /// (title `RESOURCE_EXHAUSTED` for 503, as the gateway's backpressure).
    pub fn fail_next(&self, n: u32, status: u16) {
        self.shared.lock().fail_next = if n == 0 { None } else { Some((n, status)) };
    }

    /// Requests answered by `fail_next` so far.
    pub fn injected_failures(&self) -> u64 {
        self.shared.lock().injected
    }

    /// While on, connections are closed without an answer.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.shared.lock().unavailable = unavailable;
    }

    /// Delays every answer by `delay` (zero: none).
    pub fn set_delay(&self, delay: Duration) {
        self.shared.lock().delay = delay;
    }

    /// Stores a document as an upload would; returns its reference.
    pub fn put_document(&self, id: &str, bytes: &[u8]) -> Value {
        let mut metadata = Map::new();
        metadata.insert("contentType".into(), json!("application/octet-stream"));
        metadata.insert("size".into(), json!(bytes.len()));
        metadata.insert("customProperties".into(), json!({}));
        self.shared.lock().put_document(id, bytes.to_vec(), metadata)
    }

    pub fn document(&self, id: &str) -> Option<Vec<u8>> {
        self.shared.lock().documents.get(id).map(|d| d.bytes.clone())
    }

    pub fn document_reference(&self, id: &str) -> Option<Value> {
        self.shared.lock().documents.get(id).map(|d| d.reference.clone())
    }

    pub fn document_ids(&self) -> Vec<String> {
        self.shared.lock().documents.keys().cloned().collect()
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut st = self.shared.lock();
        st.tick(now_ms());
        Snapshot {
            jobs: st.jobs.values().map(State::view).collect(),
            completions: st.completions.clone(),
            failures: st.failures.clone(),
            errors: st.errors.clone(),
            violations: st.violations.clone(),
            activations: st.activations,
            activation_requests: st.activation_requests,
            token_requests: st.token_requests,
        }
    }

    /// Blocks (sleeping) until `pred` holds or `timeout` passes; true when it held.
    /// From async code on the runtime serving a `start`ed stand-in, use `wait_until_async`.
    pub fn wait_until(&self, pred: impl Fn(&Snapshot) -> bool, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            if pred(&self.snapshot()) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub async fn wait_until_async(&self, pred: impl Fn(&Snapshot) -> bool, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            if pred(&self.snapshot()) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    if shared.lock().unavailable {
                        drop(stream);
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_connection(stream, shared.clone(), shutdown.clone()));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            _ = shutdown.changed() => break,
        }
    }
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let service = hyper::service::service_fn(move |req| handle(shared.clone(), req));
    let connection = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        _ = shutdown.changed() => {}
    }
}

type Resp = Response<Full<Bytes>>;

fn response(status: StatusCode, content_type: &str, body: Vec<u8>) -> Resp {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(CONTENT_TYPE, v);
    }
    resp
}

fn json_response(status: StatusCode, body: &Value) -> Resp {
    response(status, "application/json", body.to_string().into_bytes())
}

fn empty(status: StatusCode) -> Resp {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    resp
}

fn problem(status: StatusCode, title: &str, detail: &str, instance: &str) -> Resp {
    let body = json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
        "instance": instance,
    });
    response(status, "application/problem+json", body.to_string().into_bytes())
}

fn title_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        405 => "METHOD_NOT_ALLOWED",
        409 => "INVALID_STATE",
        413 => "PAYLOAD_TOO_LARGE",
        415 => "UNSUPPORTED_MEDIA_TYPE",
        429 | 503 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        502 | 504 => "UNAVAILABLE",
        _ => "ERROR",
    }
}

/// A rejected request: recorded, answered with a problem.
struct Reject {
    status: StatusCode,
    kind: ViolationKind,
    detail: String,
}

fn bad(detail: impl Into<String>) -> Reject {
    Reject {
        status: StatusCode::BAD_REQUEST,
        kind: ViolationKind::Schema,
        detail: detail.into(),
    }
}

/// What a handler tolerated (recorded as `Tolerated`, not rejected).
type Notes = Vec<String>;

struct Ctx<'a> {
    shared: &'a Shared,
    method: &'a str,
    path: &'a str,
}

impl Ctx<'_> {
    fn reject(&self, r: Reject) -> Resp {
        self.shared
            .lock()
            .violation(self.method, self.path, r.kind, Some(r.status.as_u16()), &r.detail);
        let mut resp = problem(r.status, title_for(r.status), &r.detail, self.path);
        if r.status == StatusCode::METHOD_NOT_ALLOWED {
            resp.headers_mut().insert(ALLOW, HeaderValue::from_static("POST"));
        }
        resp
    }

    fn note(&self, notes: Notes) {
        if notes.is_empty() {
            return;
        }
        let mut st = self.shared.lock();
        for n in notes {
            st.violation(self.method, self.path, ViolationKind::Tolerated, None, &n);
        }
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> std::result::Result<Resp, std::io::Error> {
    let (unavailable, delay) = {
        let mut st = shared.lock();
        st.requests += 1;
        (st.unavailable, st.delay)
    };
    if unavailable {
        return Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "stand-in unavailable",
        ));
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let (parts, body) = req.into_parts();
    let method = parts.method.clone();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let ctx = Ctx {
        shared: &shared,
        method: method.as_str(),
        path: &path,
    };
    let max = shared.lock().cfg.max_body_bytes;
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => return Ok(ctx.reject(bad(format!("could not read the request body: {e}")))),
    };
    if body.len() > max {
        return Ok(ctx.reject(Reject {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            kind: ViolationKind::TooLarge,
            detail: format!("request body of {} bytes is over {max}", body.len()),
        }));
    }

    if path == "/oauth/token" {
        return Ok(token_endpoint(&ctx, &method, &parts.headers, &body));
    }
    if path != "/v2" && !path.starts_with("/v2/") {
        return Ok(ctx.reject(Reject {
            status: StatusCode::NOT_FOUND,
            kind: ViolationKind::Route,
            detail: format!("no endpoint at {path}"),
        }));
    }
    let injected = {
        let mut st = shared.lock();
        match st.fail_next {
            Some((n, status)) => {
                st.fail_next = if n > 1 { Some((n - 1, status)) } else { None };
                st.injected += 1;
                Some(status)
            }
            None => None,
        }
    };
    if let Some(status) = injected {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let detail = "injected failure (stand-in fail_next)";
        return Ok(problem(status, title_for(status), detail, &path));
    }
    if let Some(resp) = check_auth(&ctx, &parts.headers) {
        return Ok(resp);
    }

    let segments: Vec<&str> = path.trim_start_matches("/v2/").split('/').collect();
    let resp = match segments.as_slice() {
        ["jobs", "activation"] => {
            if method != Method::POST {
                return Ok(method_not_allowed(&ctx));
            }
            activate(&ctx, &parts.headers, &body).await
        }
        ["jobs", key, command @ ("completion" | "failure" | "error")] => {
            if method != Method::POST {
                return Ok(method_not_allowed(&ctx));
            }
            job_command(&ctx, key, command, &parts.headers, &body)
        }
        ["documents"] => {
            if method != Method::POST {
                return Ok(method_not_allowed(&ctx));
            }
            create_document(&ctx, &query, &parts.headers, &body)
        }
        ["documents", id] => {
            if method != Method::GET {
                let mut resp = ctx.reject(Reject {
                    status: StatusCode::METHOD_NOT_ALLOWED,
                    kind: ViolationKind::Route,
                    detail: format!("{method} is not served for {path}"),
                });
                resp.headers_mut().insert(ALLOW, HeaderValue::from_static("GET"));
                return Ok(resp);
            }
            get_document(&ctx, id, &query, &body)
        }
        _ => ctx.reject(Reject {
            status: StatusCode::NOT_FOUND,
            kind: ViolationKind::Route,
            detail: format!("no endpoint at {path} (the stand-in serves jobs and documents only)"),
        }),
    };
    Ok(resp)
}

fn method_not_allowed(ctx: &Ctx<'_>) -> Resp {
    ctx.reject(Reject {
        status: StatusCode::METHOD_NOT_ALLOWED,
        kind: ViolationKind::Route,
        detail: format!("{} is not served for {}", ctx.method, ctx.path),
    })
}

// ---------------------------------------------------------------- auth

fn unauthorized(ctx: &Ctx<'_>, challenge: &'static str, detail: &str) -> Resp {
    let mut resp = ctx.reject(Reject {
        status: StatusCode::UNAUTHORIZED,
        kind: ViolationKind::Auth,
        detail: detail.into(),
    });
    resp.headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    resp
}

/// Splits `Authorization` into (lower-cased scheme, credentials).
fn authorization(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    Some((scheme.to_ascii_lowercase(), rest.trim().to_string()))
}

fn check_auth(ctx: &Ctx<'_>, headers: &HeaderMap) -> Option<Resp> {
    let given = authorization(headers);
    let mode = {
        let mut st = ctx.shared.lock();
        match given.as_ref().map(|(s, _)| s.as_str()) {
            None => st.auth_seen.none += 1,
            Some("basic") => st.auth_seen.basic += 1,
            Some("bearer") => st.auth_seen.bearer += 1,
            Some(_) => st.auth_seen.other += 1,
        }
        st.cfg.auth.clone()
    };
    match mode {
        AuthMode::None => None,
        AuthMode::Basic { user, password } => {
            let expected = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            match given {
                Some((scheme, creds)) if scheme == "basic" && creds == expected => None,
                Some((scheme, _)) if scheme == "basic" => {
                    Some(unauthorized(ctx, "Basic realm=\"camunda\"", "wrong basic credentials"))
                }
                Some(_) => Some(unauthorized(
                    ctx,
                    "Basic realm=\"camunda\"",
                    "expected Authorization: Basic",
                )),
                None => Some(unauthorized(ctx, "Basic realm=\"camunda\"", "no Authorization header")),
            }
        }
        AuthMode::OAuth { .. } => match given {
            Some((scheme, token)) if scheme == "bearer" => {
                let expiry = ctx.shared.lock().tokens.get(&token).copied();
                match expiry {
                    Some(exp) if exp > now_ms() => None,
                    Some(_) => Some(unauthorized(
                        ctx,
                        "Bearer error=\"invalid_token\"",
                        "the bearer token has expired",
                    )),
                    None => Some(unauthorized(
                        ctx,
                        "Bearer error=\"invalid_token\"",
                        "unknown bearer token",
                    )),
                }
            }
            Some(_) => Some(unauthorized(ctx, "Bearer", "expected Authorization: Bearer")),
            None => Some(unauthorized(ctx, "Bearer", "no Authorization header")),
        },
    }
}

fn url_decode(s: &str) -> std::result::Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad escape in {s:?}"))?;
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("{s:?} is not UTF-8 once decoded"))
}

fn form_pairs(s: &str) -> std::result::Result<Vec<(String, String)>, String> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok((url_decode(k)?, url_decode(v)?))
        })
        .collect()
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
}

fn oauth_error(ctx: &Ctx<'_>, status: StatusCode, error: &str, detail: &str) -> Resp {
    ctx.shared
        .lock()
        .violation(ctx.method, ctx.path, ViolationKind::Auth, Some(status.as_u16()), detail);
    json_response(status, &json!({"error": error, "error_description": detail}))
}

fn token_endpoint(ctx: &Ctx<'_>, method: &Method, headers: &HeaderMap, body: &[u8]) -> Resp {
    let auth = {
        let mut st = ctx.shared.lock();
        st.token_requests += 1;
        st.cfg.auth.clone()
    };
    let AuthMode::OAuth {
        client_id,
        client_secret,
        audience,
        token_ttl: ttl,
    } = auth
    else {
        return ctx.reject(Reject {
            status: StatusCode::NOT_FOUND,
            kind: ViolationKind::Route,
            detail: "no token endpoint: the stand-in is not in OAuth mode".into(),
        });
    };
    if method != Method::POST {
        return oauth_error(
            ctx,
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "the token endpoint takes POST",
        );
    }
    if media_type(headers).as_deref() != Some("application/x-www-form-urlencoded") {
        return oauth_error(
            ctx,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the token request must be application/x-www-form-urlencoded",
        );
    }
    let form = match std::str::from_utf8(body)
        .map_err(|e| e.to_string())
        .and_then(form_pairs)
    {
        Ok(form) => form,
        Err(e) => return oauth_error(ctx, StatusCode::BAD_REQUEST, "invalid_request", &e),
    };
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    if field("grant_type").as_deref() != Some("client_credentials") {
        return oauth_error(
            ctx,
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    // client_secret_post, or client_secret_basic (RFC 6749 2.3.1).
    let (id, secret) = match (field("client_id"), field("client_secret"), authorization(headers)) {
        (Some(id), Some(secret), _) => (id, secret),
        (_, _, Some((scheme, creds))) if scheme == "basic" => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(creds.as_bytes())
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .unwrap_or_default();
            let (id, secret) = decoded.split_once(':').unwrap_or(("", ""));
            (
                url_decode(id).unwrap_or_default(),
                url_decode(secret).unwrap_or_default(),
            )
        }
        _ => return oauth_error(ctx, StatusCode::UNAUTHORIZED, "invalid_client", "no client credentials"),
    };
    if id != client_id || secret != client_secret {
        return oauth_error(
            ctx,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "wrong client credentials",
        );
    }
    if !audience.is_empty() && field("audience").as_deref() != Some(audience.as_str()) {
        return oauth_error(
            ctx,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "missing or wrong audience",
        );
    }
    let token = {
        let mut st = ctx.shared.lock();
        let token = format!("sti.{:016x}{:016x}", st.random_u64(), st.random_u64());
        st.tokens
            .insert(token.clone(), now_ms().saturating_add(ttl.as_millis() as i64));
        token
    };
    let mut resp = json_response(
        StatusCode::OK,
        &json!({"access_token": token, "token_type": "Bearer", "expires_in": ttl.as_secs()}),
    );
    resp.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    resp
}

// ---------------------------------------------------------------- schema checks

#[derive(Clone, Copy)]
enum Ty {
    Str,
    NonEmptyStr,
    I32,
    I64,
    StrArray,
    Object,
    Any,
}

struct Field {
    name: &'static str,
    ty: Ty,
    required: bool,
    nullable: bool,
}

const fn f(name: &'static str, ty: Ty, required: bool, nullable: bool) -> Field {
    Field {
        name,
        ty,
        required,
        nullable,
    }
}

fn type_ok(ty: Ty, v: &Value) -> std::result::Result<(), String> {
    match ty {
        Ty::Str => v.as_str().map(|_| ()).ok_or_else(|| "a string".to_string()),
        Ty::NonEmptyStr => match v.as_str() {
            Some(s) if !s.trim().is_empty() => Ok(()),
            _ => Err("a non-empty string".to_string()),
        },
        Ty::I32 => match v.as_i64() {
            Some(n) if i32::try_from(n).is_ok() => Ok(()),
            _ => Err("an int32 integer".to_string()),
        },
        Ty::I64 => v.as_i64().map(|_| ()).ok_or_else(|| "an int64 integer".to_string()),
        Ty::StrArray => match v.as_array() {
            Some(items) if items.iter().all(Value::is_string) => Ok(()),
            _ => Err("an array of strings".to_string()),
        },
        Ty::Object => v.as_object().map(|_| ()).ok_or_else(|| "an object".to_string()),
        Ty::Any => Ok(()),
    }
}

/// Checks `body` against `fields`; unknown properties are rejected unless
/// `additional` (then noted). Returns the tolerated deviations.
fn check_object(body: &Value, fields: &[Field], additional: bool) -> std::result::Result<Notes, Reject> {
    let obj = body
        .as_object()
        .ok_or_else(|| bad("the request body must be a JSON object"))?;
    let mut notes = Vec::new();
    for key in obj.keys() {
        if !fields.iter().any(|fl| fl.name == key) {
            if additional {
                notes.push(format!("unknown property [{key}]"));
            } else {
                return Err(bad(format!(
                    "Request property [{key}] cannot be parsed (not in the schema)"
                )));
            }
        }
    }
    for fl in fields {
        match obj.get(fl.name) {
            None if fl.required => return Err(bad(format!("No {} provided.", fl.name))),
            None => {}
            Some(Value::Null) if fl.nullable => {}
            Some(Value::Null) if fl.required => return Err(bad(format!("No {} provided (null).", fl.name))),
            Some(Value::Null) => notes.push(format!("property [{}] is null but not nullable in the spec", fl.name)),
            Some(v) => {
                if let Err(want) = type_ok(fl.ty, v) {
                    return Err(bad(format!("Request property [{}] must be {want}, got {v}", fl.name)));
                }
            }
        }
    }
    Ok(notes)
}

/// Parses a JSON body after checking its media type; `None` for an empty body.
fn json_body(headers: &HeaderMap, body: &[u8]) -> std::result::Result<Option<Value>, Reject> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match media_type(headers).as_deref() {
        Some("application/json") => {}
        Some(other) => {
            return Err(Reject {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                kind: ViolationKind::MediaType,
                detail: format!("Content-Type '{other}' is not supported; expected application/json"),
            })
        }
        None => {
            return Err(Reject {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                kind: ViolationKind::MediaType,
                detail: "no Content-Type; expected application/json".into(),
            })
        }
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| bad(format!("the request body is not valid JSON: {e}")))
}

fn valid_tenant_id(t: &str) -> bool {
    t == DEFAULT_TENANT
        || (!t.is_empty()
            && t.len() <= 31
            && t.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '-'))
}

// ---------------------------------------------------------------- jobs

struct Activation {
    job_type: String,
    worker: String,
    timeout: i64,
    max: i32,
    fetch: Option<Vec<String>>,
    request_timeout: i64,
    /// `None`: every tenant.
    tenants: Option<Vec<String>>,
}

const ACTIVATION_FIELDS: &[Field] = &[
    f("type", Ty::NonEmptyStr, true, false),
    f("worker", Ty::Str, false, false),
    f("timeout", Ty::I64, true, false),
    f("maxJobsToActivate", Ty::I32, true, false),
    f("fetchVariable", Ty::StrArray, false, false),
    f("requestTimeout", Ty::I64, false, false),
    f("tenantIds", Ty::StrArray, false, false),
    // 8.9: PROVIDED (default) or ASSIGNED.
    f("tenantFilter", Ty::Str, false, false),
];

fn parse_activation(body: Option<Value>, multi_tenancy: bool) -> std::result::Result<(Activation, Notes), Reject> {
    let body = body.ok_or_else(|| bad("Required request body is missing"))?;
    let notes = check_object(&body, ACTIVATION_FIELDS, false)?;
    let str_list = |name: &str| -> Option<Vec<String>> {
        body.get(name)?
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
    };
    let timeout = body.get("timeout").and_then(Value::as_i64).unwrap_or(0);
    if timeout < 1 {
        return Err(bad(format!("Expected timeout to be greater than 0, but was {timeout}")));
    }
    let max = body.get("maxJobsToActivate").and_then(Value::as_i64).unwrap_or(0);
    if max < 1 {
        return Err(bad(format!(
            "Expected maxJobsToActivate to be greater than 0, but was {max}"
        )));
    }
    let filter = body.get("tenantFilter").and_then(Value::as_str).unwrap_or("PROVIDED");
    if filter != "PROVIDED" && filter != "ASSIGNED" {
        return Err(bad(format!(
            "tenantFilter must be PROVIDED or ASSIGNED, got {filter:?}"
        )));
    }
    let given = str_list("tenantIds").unwrap_or_default();
    if let Some(t) = given.iter().find(|t| !valid_tenant_id(t)) {
        return Err(bad(format!(
            "tenant id {t:?} does not match ^(<default>|[\\w\\.\\-]{{1,31}})$"
        )));
    }
    let tenants = if filter == "ASSIGNED" {
        // Every tenant the caller may access: all of them here.
        if multi_tenancy {
            None
        } else {
            Some(vec![DEFAULT_TENANT.to_string()])
        }
    } else if multi_tenancy {
        if given.is_empty() {
            return Err(bad("Expected to handle request Activate Jobs with tenant identifiers [], but no tenant identifiers were provided."));
        }
        Some(given)
    } else {
        if let Some(t) = given.iter().find(|t| t.as_str() != DEFAULT_TENANT) {
            return Err(bad(format!(
                "Expected to handle request Activate Jobs with tenant identifier '{t}', but multi-tenancy is disabled"
            )));
        }
        Some(vec![DEFAULT_TENANT.to_string()])
    };
    Ok((
        Activation {
            job_type: body.get("type").and_then(Value::as_str).unwrap_or("").to_string(),
            worker: body.get("worker").and_then(Value::as_str).unwrap_or("").to_string(),
            timeout,
            max: max as i32,
            fetch: str_list("fetchVariable"),
            request_timeout: body.get("requestTimeout").and_then(Value::as_i64).unwrap_or(0),
            tenants,
        },
        notes,
    ))
}

async fn activate(ctx: &Ctx<'_>, headers: &HeaderMap, body: &[u8]) -> Resp {
    let multi_tenancy = ctx.shared.lock().cfg.multi_tenancy;
    let (req, notes) = match json_body(headers, body).and_then(|b| parse_activation(b, multi_tenancy)) {
        Ok(parsed) => parsed,
        Err(r) => return ctx.reject(r),
    };
    ctx.note(notes);
    let wait = {
        let mut st = ctx.shared.lock();
        st.activation_requests += 1;
        match req.request_timeout {
            t if t < 0 => Duration::ZERO,
            0 => st.cfg.default_request_timeout,
            t => Duration::from_millis(t as u64),
        }
        .min(st.cfg.max_request_timeout)
    };
    let end = Instant::now() + wait;
    loop {
        let notified = ctx.shared.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let jobs = {
            let mut st = ctx.shared.lock();
            let now = now_ms();
            st.tick(now);
            st.grab(&req, now)
        };
        let left = end.saturating_duration_since(Instant::now());
        if !jobs.is_empty() || left.is_zero() {
            return json_response(StatusCode::OK, &json!({ "jobs": jobs }));
        }
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(left.min(POLL_STEP)) => {}
        }
    }
}

const COMPLETION_FIELDS: &[Field] = &[
    f("variables", Ty::Object, false, true),
    f("result", Ty::Any, false, true),
];
const FAILURE_FIELDS: &[Field] = &[
    f("retries", Ty::I32, false, false),
    f("errorMessage", Ty::Str, false, false),
    f("retryBackOff", Ty::I64, false, false),
    f("variables", Ty::Object, false, false),
];
const ERROR_FIELDS: &[Field] = &[
    f("errorCode", Ty::NonEmptyStr, true, false),
    f("errorMessage", Ty::Str, false, true),
    f("variables", Ty::Object, false, true),
];

fn valid_long_key(key: &str) -> bool {
    let digits = key.strip_prefix('-').unwrap_or(key);
    !key.is_empty() && key.len() <= 25 && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn job_command(ctx: &Ctx<'_>, key: &str, command: &str, headers: &HeaderMap, body: &[u8]) -> Resp {
    if command == "completion" {
        *ctx.shared
            .lock()
            .completion_attempts
            .entry(key.to_string())
            .or_insert(0) += 1;
    }
    if !valid_long_key(key) {
        return ctx.reject(bad(format!(
            "jobKey {key:?} is not a key (^-?[0-9]+$, at most 25 characters)"
        )));
    }
    let parsed = match json_body(headers, body) {
        Ok(parsed) => parsed,
        Err(r) => return ctx.reject(r),
    };
    let (fields, required) = match command {
        "completion" => (COMPLETION_FIELDS, false),
        "failure" => (FAILURE_FIELDS, false),
        _ => (ERROR_FIELDS, true),
    };
    let mut notes = match &parsed {
        Some(b) => match check_object(b, fields, false) {
            Ok(notes) => notes,
            Err(r) => return ctx.reject(r),
        },
        None if required => return ctx.reject(bad("Required request body is missing")),
        None => Vec::new(),
    };
    let body = parsed.unwrap_or(Value::Null);
    if let Some(result) = body.get("result").filter(|r| !r.is_null()) {
        match result.get("type").and_then(Value::as_str) {
            Some("userTask" | "adHocSubProcess") | None if result.is_object() => {}
            _ => {
                return ctx.reject(bad(
                    "result must be a JobResult object (type userTask or adHocSubProcess)",
                ))
            }
        }
        notes.push(
            "result is for user task listener and ad-hoc sub-process jobs, not BPMN_ELEMENT service tasks".into(),
        );
    }
    let get_i64 = |name: &str| body.get(name).and_then(Value::as_i64);
    let retries = get_i64("retries").unwrap_or(0);
    let backoff = get_i64("retryBackOff").unwrap_or(0);
    if retries < 0 {
        notes.push(format!("retries {retries} is negative"));
    }
    if backoff < 0 {
        notes.push(format!("retryBackOff {backoff} is negative"));
    }
    ctx.note(notes);

    let Ok(job_key) = key.parse::<i64>() else {
        return ctx.reject(bad(format!("jobKey {key:?} is out of range")));
    };
    let verb = match command {
        "completion" => "complete",
        "failure" => "fail",
        _ => "throw an error for",
    };
    let outcome = {
        let mut st = ctx.shared.lock();
        let now = now_ms();
        st.tick(now);
        let reject_not_activated = st.cfg.reject_not_activated;
        match st.jobs.get_mut(&job_key) {
            None => Err(StatusCode::NOT_FOUND),
            Some(job) => {
                let stale = match &job.state {
                    JobState::Activated { .. } => Ok(false),
                    JobState::Activatable if reject_not_activated => Err(StatusCode::NOT_FOUND),
                    JobState::Activatable => Ok(true),
                    // Gone from the engine's state.
                    JobState::Completed | JobState::ErrorThrown { .. } => Err(StatusCode::NOT_FOUND),
                    JobState::FailedBackoff { .. } | JobState::Incident { .. } => Err(StatusCode::CONFLICT),
                };
                match stale {
                    Err(status) => Err(status),
                    Ok(stale) => {
                        let record = CommandRecord {
                            key: key.to_string(),
                            body: body.clone(),
                            worker: job.worker.clone(),
                            at: SystemTime::now(),
                            stale,
                        };
                        let mut woke = false;
                        match command {
                            "completion" => job.state = JobState::Completed,
                            "failure" => {
                                job.retries = retries.clamp(0, i64::from(i32::MAX)) as i32;
                                job.state = if job.retries == 0 {
                                    let msg = body.get("errorMessage").and_then(Value::as_str).unwrap_or("");
                                    JobState::Incident {
                                        error_message: msg.to_string(),
                                    }
                                } else if backoff > 0 {
                                    JobState::FailedBackoff {
                                        until_ms: now.saturating_add(backoff),
                                    }
                                } else {
                                    woke = true;
                                    JobState::Activatable
                                };
                            }
                            _ => {
                                let code = body.get("errorCode").and_then(Value::as_str).unwrap_or("");
                                job.state = JobState::ErrorThrown {
                                    error_code: code.to_string(),
                                };
                            }
                        }
                        match command {
                            "completion" => st.completions.push(record),
                            "failure" => st.failures.push(record),
                            _ => st.errors.push(record),
                        }
                        Ok(woke)
                    }
                }
            }
        }
    };
    match outcome {
        Ok(woke) => {
            if woke {
                ctx.shared.notify.notify_waiters();
            }
            empty(StatusCode::NO_CONTENT)
        }
        Err(StatusCode::CONFLICT) => {
            let state = ctx.shared.lock().jobs.get(&job_key).map(|j| j.state.clone());
            let name = match state {
                Some(JobState::Incident { .. }) | Some(JobState::FailedBackoff { .. }) => "FAILED",
                _ => "unknown",
            };
            ctx.reject(Reject {
                status: StatusCode::CONFLICT,
                kind: ViolationKind::State,
                detail: format!("Expected to {verb} job with key '{key}', but it is in state '{name}'"),
            })
        }
        Err(status) => ctx.reject(Reject {
            status,
            kind: ViolationKind::State,
            detail: format!(
                "Expected to {verb} job with key '{key}', but no such job was found (or it is not activated)"
            ),
        }),
    }
}

// ---------------------------------------------------------------- documents

struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// The value of `param` in a header like `form-data; name="file"; filename="a.pdf"`.
fn header_param(value: &str, param: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(param)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// A minimal multipart/form-data reader (RFC 7578): enough for a test double.
fn parse_multipart(body: &[u8], boundary: &str) -> std::result::Result<Vec<Part>, String> {
    let delimiter = format!("--{boundary}");
    let next = format!("\r\n--{boundary}");
    let mut pos = find(body, delimiter.as_bytes(), 0).ok_or("no opening boundary")? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body.get(pos..pos + 2) == Some(b"--") {
            return Ok(parts);
        }
        if body.get(pos..pos + 2) != Some(b"\r\n") {
            return Err("a boundary is not followed by CRLF".into());
        }
        pos += 2;
        let head_end = find(body, b"\r\n\r\n", pos).ok_or("a part has no header end")?;
        let head = std::str::from_utf8(&body[pos..head_end]).map_err(|_| "part headers are not UTF-8")?;
        let (mut disposition, mut content_type) = (None, None);
        for line in head.split("\r\n").filter(|l| !l.is_empty()) {
            let (name, value) = line.split_once(':').ok_or("a part header has no colon")?;
            match name.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => disposition = Some(value.trim().to_string()),
                "content-type" => content_type = Some(value.trim().to_string()),
                _ => {}
            }
        }
        let disposition = disposition.ok_or("a part has no Content-Disposition")?;
        if !disposition.to_ascii_lowercase().starts_with("form-data") {
            return Err("a part's Content-Disposition is not form-data".into());
        }
        let name = header_param(&disposition, "name").ok_or("a part has no name")?;
        let data_start = head_end + 4;
        let data_end = find(body, next.as_bytes(), data_start).ok_or("a part has no closing boundary")?;
        parts.push(Part {
            name,
            filename: header_param(&disposition, "filename"),
            content_type,
            data: body[data_start..data_end].to_vec(),
        });
        pos = data_end + next.len();
    }
}

const METADATA_FIELDS: &[Field] = &[
    f("contentType", Ty::Str, false, false),
    f("fileName", Ty::Str, false, false),
    f("expiresAt", Ty::Str, false, false),
    f("size", Ty::I64, false, false),
    f("processDefinitionId", Ty::Str, false, false),
    f("processInstanceKey", Ty::Str, false, false),
    f("customProperties", Ty::Object, false, false),
];

/// Loosely RFC 3339: `YYYY-MM-DDTHH:MM:SS` then fraction and offset.
fn looks_like_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b't')
        && b[13] == b':'
        && b[16] == b':'
        && {
            let tail = s.get(19..).unwrap_or("");
            tail.ends_with('Z') || tail.ends_with('z') || tail.contains('+') || tail.contains('-')
        }
}

fn query_map(query: &str) -> std::result::Result<BTreeMap<String, String>, Reject> {
    Ok(form_pairs(query).map_err(bad)?.into_iter().collect())
}

fn create_document(ctx: &Ctx<'_>, query: &str, headers: &HeaderMap, body: &[u8]) -> Resp {
    let params = match query_map(query) {
        Ok(p) => p,
        Err(r) => return ctx.reject(r),
    };
    let store_id = ctx.shared.lock().cfg.store_id.clone();
    if let Some(s) = params.get("storeId").filter(|s| **s != store_id) {
        return ctx.reject(bad(format!("Document store with id '{s}' does not exist")));
    }
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if media_type(headers).as_deref() != Some("multipart/form-data") {
        return ctx.reject(Reject {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            kind: ViolationKind::MediaType,
            detail: format!("Content-Type '{content_type}' is not supported; expected multipart/form-data"),
        });
    }
    let Some(boundary) = header_param(content_type, "boundary").filter(|b| !b.is_empty()) else {
        return ctx.reject(bad("multipart/form-data without a boundary"));
    };
    let parts = match parse_multipart(body, &boundary) {
        Ok(parts) => parts,
        Err(e) => return ctx.reject(bad(format!("malformed multipart body: {e}"))),
    };
    if let Some(p) = parts.iter().find(|p| p.name != "file" && p.name != "metadata") {
        return ctx.reject(bad(format!(
            "unknown multipart part [{}]; only file and metadata",
            p.name
        )));
    }
    let files: Vec<&Part> = parts.iter().filter(|p| p.name == "file").collect();
    let [file] = files.as_slice() else {
        return ctx.reject(bad(format!("expected exactly one file part, got {}", files.len())));
    };
    let mut notes = Vec::new();
    let mut metadata = Map::new();
    let metas: Vec<&Part> = parts.iter().filter(|p| p.name == "metadata").collect();
    match metas.as_slice() {
        [] => {}
        [meta] => {
            let mt = meta
                .content_type
                .as_deref()
                .map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
            if mt.as_deref() != Some("application/json") {
                return ctx.reject(Reject {
                    status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    kind: ViolationKind::MediaType,
                    detail: "the metadata part must have Content-Type: application/json".into(),
                });
            }
            let value: Value = match serde_json::from_slice(&meta.data) {
                Ok(v) => v,
                Err(e) => return ctx.reject(bad(format!("the metadata part is not valid JSON: {e}"))),
            };
            match check_object(&value, METADATA_FIELDS, true) {
                Ok(n) => notes.extend(n),
                Err(r) => return ctx.reject(r),
            }
            if let Some(t) = value.get("expiresAt").and_then(Value::as_str) {
                if !looks_like_date_time(t) {
                    return ctx.reject(bad(format!("expiresAt {t:?} is not an RFC 3339 date-time")));
                }
            }
            if let Some(k) = value.get("processInstanceKey").and_then(Value::as_str) {
                if !valid_long_key(k) {
                    return ctx.reject(bad(format!("processInstanceKey {k:?} is not a key")));
                }
            }
            if let Value::Object(m) = value {
                metadata = m;
            }
        }
        _ => return ctx.reject(bad("more than one metadata part")),
    }
    ctx.note(notes);
    if !metadata.contains_key("contentType") {
        let ct = file
            .content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".to_string());
        metadata.insert("contentType".into(), json!(ct));
    }
    if let (false, Some(name)) = (metadata.contains_key("fileName"), &file.filename) {
        metadata.insert("fileName".into(), json!(name));
    }
    metadata.insert("size".into(), json!(file.data.len()));
    if !metadata.contains_key("customProperties") {
        metadata.insert("customProperties".into(), json!({}));
    }
    let mut st = ctx.shared.lock();
    let id = match params.get("documentId") {
        Some(id) if id.is_empty() => {
            drop(st);
            return ctx.reject(bad("documentId is empty"));
        }
        Some(id) if st.documents.contains_key(id) => {
            drop(st);
            return ctx.reject(Reject {
                status: StatusCode::CONFLICT,
                kind: ViolationKind::State,
                detail: format!("Document with id '{id}' already exists"),
            });
        }
        Some(id) => id.clone(),
        None => st.document_id(),
    };
    let reference = st.put_document(&id, file.data.clone(), metadata);
    json_response(StatusCode::CREATED, &reference)
}

fn get_document(ctx: &Ctx<'_>, id: &str, query: &str, body: &[u8]) -> Resp {
    let params = match query_map(query) {
        Ok(p) => p,
        Err(r) => return ctx.reject(r),
    };
    let id = match url_decode(id) {
        Ok(id) => id,
        Err(e) => return ctx.reject(bad(e)),
    };
    let mut notes = Vec::new();
    if !body.is_empty() {
        notes.push("GET with a request body".to_string());
    }
    let (store_id, doc) = {
        let st = ctx.shared.lock();
        (
            st.cfg.store_id.clone(),
            st.documents.get(&id).map(|d| (d.bytes.clone(), d.reference.clone())),
        )
    };
    if let Some(s) = params.get("storeId").filter(|s| **s != store_id) {
        return ctx.reject(bad(format!("Document store with id '{s}' does not exist")));
    }
    let Some((bytes, reference)) = doc else {
        return ctx.reject(Reject {
            status: StatusCode::NOT_FOUND,
            kind: ViolationKind::State,
            detail: format!("Document with id '{id}' not found"),
        });
    };
    match params.get("contentHash") {
        None => notes.push("contentHash missing (required by the 8.8 spec, optional later)".to_string()),
        Some(h) if Some(h.as_str()) != reference.get("contentHash").and_then(Value::as_str) => {
            return ctx.reject(bad(format!("contentHash does not match the document with id '{id}'")));
        }
        Some(_) => {}
    }
    ctx.note(notes);
    response(StatusCode::OK, "application/octet-stream", bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderName;

    struct Reply {
        status: u16,
        headers: HeaderMap,
        body: Vec<u8>,
    }

    impl Reply {
        fn json(&self) -> Value {
            serde_json::from_slice(&self.body).unwrap_or(Value::Null)
        }
    }

    /// One request over a fresh connection, with hyper's client.
    async fn send(
        addr: SocketAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Reply> {
        let tcp = TcpStream::connect(addr).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
        tokio::spawn(conn);
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", addr.to_string());
        for (k, v) in headers {
            req = req.header(HeaderName::from_bytes(k.as_bytes())?, *v);
        }
        let resp = sender.send_request(req.body(Full::new(Bytes::from(body)))?).await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await?.to_bytes().to_vec();
        Ok(Reply { status, headers, body })
    }

    async fn post_json(addr: SocketAddr, path: &str, body: &Value, auth: Option<&str>) -> Result<Reply> {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = auth {
            headers.push(("authorization", a));
        }
        send(addr, "POST", path, &headers, body.to_string().into_bytes()).await
    }

    fn activation(job_type: &str, request_timeout: i64) -> Value {
        json!({"type": job_type, "worker": "w1", "timeout": 60000, "maxJobsToActivate": 5, "requestTimeout": request_timeout})
    }

    /// Worker "w1" activates jobs of type "t", waiting up to `request_timeout` ms (-1: not at all).
    async fn activate(s: &CamundaStandIn, request_timeout: i64) -> Reply {
        post_json(s.addr(), "/v2/jobs/activation", &activation("t", request_timeout), None)
            .await
            .unwrap()
    }

    /// `activate(s, -1)` with this `Authorization` header.
    async fn activate_as(s: &CamundaStandIn, authorization: &str) -> Reply {
        post_json(
            s.addr(),
            "/v2/jobs/activation",
            &activation("t", -1),
            Some(authorization),
        )
        .await
        .unwrap()
    }

    /// A stand-in with one job of type "t", activated by worker "w1", and its key.
    async fn one_active_job() -> (CamundaStandIn, String) {
        let s = CamundaStandIn::start(StandInConfig::default()).unwrap();
        let key = s.create_job(JobSpec::new("t", json!({})));
        activate(&s, -1).await;
        (s, key)
    }

    /// `body` posted to the job's `action` endpoint (completion, failure, error).
    async fn post_to_job(s: &CamundaStandIn, key: &str, action: &str, body: &Value) -> Reply {
        post_json(s.addr(), &format!("/v2/jobs/{key}/{action}"), body, None)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn long_poll_answers_when_a_job_is_created() {
        let s = Arc::new(CamundaStandIn::start(StandInConfig::default()).unwrap());
        let addr = s.addr();
        let creator = s.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            creator.create_job(JobSpec::new("t", json!({"a": 1, "b": 2})));
        });
        let started = Instant::now();
        let mut body = activation("t", 5000);
        body["fetchVariable"] = json!(["a"]);
        let r = post_json(addr, "/v2/jobs/activation", &body, None).await.unwrap();
        assert_eq!(r.status, 200);
        assert!(started.elapsed() >= Duration::from_millis(140) && started.elapsed() < Duration::from_secs(3));
        let jobs = r.json()["jobs"].as_array().cloned().unwrap();
        assert_eq!(jobs.len(), 1);
        let job = &jobs[0];
        for field in [
            "type",
            "processDefinitionId",
            "processDefinitionVersion",
            "elementId",
            "customHeaders",
            "worker",
            "retries",
            "deadline",
            "variables",
            "tenantId",
            "jobKey",
            "processInstanceKey",
            "processDefinitionKey",
            "elementInstanceKey",
            "kind",
            "listenerEventType",
        ] {
            assert!(job.get(field).is_some(), "missing {field}");
        }
        assert!(job["jobKey"].is_string() && job["deadline"].is_i64());
        assert_eq!(job["variables"], json!({"a": 1}));
        assert_eq!(job["worker"], "w1");
        assert_eq!(job["tenantId"], DEFAULT_TENANT);
        // Nothing left: an immediate answer with no job when long polling is off.
        let r = post_json(addr, "/v2/jobs/activation", &activation("t", -1), None)
            .await
            .unwrap();
        assert_eq!(r.json(), json!({"jobs": []}));
        assert_eq!(s.activations(), 1);
        assert!(s.violations().is_empty(), "{:?}", s.violations());
    }

    #[tokio::test]
    async fn short_long_poll_ends_empty_and_respects_max_and_tenants() {
        let s = CamundaStandIn::start(StandInConfig::default()).unwrap();
        let started = Instant::now();
        let r = activate(&s, 200).await;
        assert_eq!(r.json(), json!({"jobs": []}));
        assert!(started.elapsed() >= Duration::from_millis(190));
        for _ in 0..3 {
            s.create_job(JobSpec::new("t", json!({})));
        }
        let mut other = JobSpec::new("t", json!({}));
        other.tenant_id = "acme".into();
        s.create_job(other);
        let mut body = activation("t", -1);
        body["maxJobsToActivate"] = json!(2);
        let r = post_json(s.addr(), "/v2/jobs/activation", &body, None).await.unwrap();
        assert_eq!(r.json()["jobs"].as_array().map(Vec::len), Some(2));
        let r = activate(&s, -1).await;
        assert_eq!(
            r.json()["jobs"].as_array().map(Vec::len),
            Some(1),
            "the acme job is not the default tenant's"
        );
        // Multi-tenancy is off: naming another tenant is refused.
        body["tenantIds"] = json!(["acme"]);
        let r = post_json(s.addr(), "/v2/jobs/activation", &body, None).await.unwrap();
        assert_eq!(r.status, 400);
    }

    #[tokio::test]
    async fn a_timed_out_job_is_activated_again() {
        let s = CamundaStandIn::start(StandInConfig::default()).unwrap();
        let key = s.create_job(JobSpec::new("t", json!({})));
        let mut body = activation("t", -1);
        body["timeout"] = json!(300);
        let r = post_json(s.addr(), "/v2/jobs/activation", &body, None).await.unwrap();
        assert_eq!(r.json()["jobs"][0]["jobKey"], json!(key));
        let r = post_json(s.addr(), "/v2/jobs/activation", &body, None).await.unwrap();
        assert_eq!(r.json()["jobs"], json!([]));
        tokio::time::sleep(Duration::from_millis(350)).await;
        body["worker"] = json!("w2");
        let r = post_json(s.addr(), "/v2/jobs/activation", &body, None).await.unwrap();
        assert_eq!(r.json()["jobs"][0]["jobKey"], json!(key));
        assert_eq!(r.json()["jobs"][0]["retries"], json!(3));
        let job = s.job(&key).unwrap();
        assert_eq!((job.activations, job.timeouts, job.retries), (2, 1, 3));
    }

    #[tokio::test]
    async fn multi_tenancy_needs_tenant_ids() {
        let s = CamundaStandIn::start(StandInConfig {
            multi_tenancy: true,
            ..StandInConfig::default()
        })
        .unwrap();
        let mut spec = JobSpec::new("t", json!({}));
        spec.tenant_id = "acme".into();
        let key = s.create_job(spec);
        let r = activate(&s, -1).await;
        assert_eq!(r.status, 400, "no tenantIds with multi-tenancy on");
        let mut body = activation("t", -1);
        body["tenantIds"] = json!(["bad tenant!"]);
        assert_eq!(
            post_json(s.addr(), "/v2/jobs/activation", &body, None)
                .await
                .unwrap()
                .status,
            400
        );
        body["tenantIds"] = json!(["other"]);
        let r = post_json(s.addr(), "/v2/jobs/activation", &body, None).await.unwrap();
        assert_eq!(r.json()["jobs"], json!([]));
        body["tenantIds"] = json!(["acme", "<default>"]);
        let r = post_json(s.addr(), "/v2/jobs/activation", &body, None).await.unwrap();
        assert_eq!(r.json()["jobs"][0]["jobKey"], json!(key));
        assert_eq!(r.json()["jobs"][0]["tenantId"], "acme");
    }

    #[tokio::test]
    async fn a_late_completion_is_stale_or_refused() {
        for reject in [false, true] {
            let cfg = StandInConfig {
                reject_not_activated: reject,
                ..StandInConfig::default()
            };
            let s = CamundaStandIn::start(cfg).unwrap();
            let key = s.create_job(JobSpec::new("t", json!({})));
            let mut body = activation("t", -1);
            body["timeout"] = json!(50);
            post_json(s.addr(), "/v2/jobs/activation", &body, None).await.unwrap();
            tokio::time::sleep(Duration::from_millis(80)).await;
            let r = post_to_job(&s, &key, "completion", &json!({})).await;
            if reject {
                assert_eq!(r.status, 404);
                assert!(s.completions().is_empty());
            } else {
                assert_eq!(r.status, 204);
                assert!(s.completions()[0].stale);
            }
        }
    }

    #[tokio::test]
    async fn completion_then_a_second_completion_is_404() {
        let (s, key) = one_active_job().await;
        let path = format!("/v2/jobs/{key}/completion");
        let r = post_json(s.addr(), &path, &json!({"variables": {"out": 1}}), None)
            .await
            .unwrap();
        assert_eq!(r.status, 204);
        let r = post_json(s.addr(), &path, &json!({"variables": {"out": 1}}), None)
            .await
            .unwrap();
        assert_eq!(r.status, 404);
        assert_eq!(r.headers.get(CONTENT_TYPE).unwrap(), "application/problem+json");
        let p = r.json();
        for field in ["type", "title", "status", "detail", "instance"] {
            assert!(p.get(field).is_some(), "missing {field}");
        }
        assert_eq!(p["status"], 404);
        assert_eq!(s.completions().len(), 1);
        assert_eq!(s.completions()[0].worker, "w1");
        assert_eq!(s.completion_count_per_job().get(&key), Some(&2));
        assert_eq!(s.job(&key).unwrap().state, JobState::Completed);
        // An empty body is allowed (the request body is optional).
        let k2 = s.create_job(JobSpec::new("t", json!({})));
        activate(&s, -1).await;
        let r = send(s.addr(), "POST", &format!("/v2/jobs/{k2}/completion"), &[], vec![])
            .await
            .unwrap();
        assert_eq!(r.status, 204);
    }

    #[tokio::test]
    async fn failure_with_retries_comes_back_after_the_backoff() {
        let (s, key) = one_active_job().await;
        let body = json!({"retries": 2, "errorMessage": "boom", "retryBackOff": 200});
        let r = post_to_job(&s, &key, "failure", &body).await;
        assert_eq!(r.status, 204);
        assert!(matches!(s.job(&key).unwrap().state, JobState::FailedBackoff { .. }));
        let r = activate(&s, -1).await;
        assert_eq!(r.json()["jobs"], json!([]));
        let r = activate(&s, 2000).await;
        assert_eq!(r.json()["jobs"][0]["retries"], json!(2));
        let failed_at = s.failures()[0].at;
        assert!(failed_at.elapsed().unwrap() >= Duration::from_millis(190));
        assert_eq!(s.failures().len(), 1);
    }

    #[tokio::test]
    async fn failure_without_retries_is_an_incident() {
        let (s, key) = one_active_job().await;
        let r = post_to_job(&s, &key, "failure", &json!({"errorMessage": "bad input"})).await;
        assert_eq!(r.status, 204);
        assert_eq!(
            s.job(&key).unwrap().state,
            JobState::Incident {
                error_message: "bad input".into()
            }
        );
        let r = activate(&s, 100).await;
        assert_eq!(r.json()["jobs"], json!([]));
        let r = post_to_job(&s, &key, "completion", &json!({})).await;
        assert_eq!(r.status, 409);
    }

    #[tokio::test]
    async fn throw_error_needs_an_error_code() {
        let (s, key) = one_active_job().await;
        let path = format!("/v2/jobs/{key}/error");
        let r = post_json(s.addr(), &path, &json!({"errorMessage": "x"}), None)
            .await
            .unwrap();
        assert_eq!(r.status, 400);
        let r = post_json(
            s.addr(),
            &path,
            &json!({"errorCode": "INVALID", "errorMessage": null}),
            None,
        )
        .await
        .unwrap();
        assert_eq!(r.status, 204);
        assert_eq!(s.errors().len(), 1);
        assert_eq!(
            s.job(&key).unwrap().state,
            JobState::ErrorThrown {
                error_code: "INVALID".into()
            }
        );
    }

    #[tokio::test]
    async fn schema_violations_are_400_and_recorded() {
        let s = CamundaStandIn::start(StandInConfig::default()).unwrap();
        let addr = s.addr();
        type Case = (Vec<(&'static str, &'static str)>, Vec<u8>, u16);
        let cases: Vec<Case> = vec![
            (vec![("content-type", "application/json")], b"{not json".to_vec(), 400),
            (
                vec![("content-type", "application/json")],
                br#"{"type":"t","timeout":1000}"#.to_vec(),
                400,
            ),
            (
                vec![("content-type", "application/json")],
                br#"{"type":"t","timeout":1000,"maxJobsToActivate":1,"maxJobsToActivates":1}"#.to_vec(),
                400,
            ),
            (
                vec![("content-type", "application/json")],
                br#"{"type":"t","timeout":"1000","maxJobsToActivate":1}"#.to_vec(),
                400,
            ),
            (
                vec![("content-type", "application/json")],
                br#"{"type":"t","timeout":1000,"maxJobsToActivate":0}"#.to_vec(),
                400,
            ),
            (
                vec![("content-type", "text/plain")],
                br#"{"type":"t","timeout":1000,"maxJobsToActivate":1}"#.to_vec(),
                415,
            ),
            (
                vec![],
                br#"{"type":"t","timeout":1000,"maxJobsToActivate":1}"#.to_vec(),
                415,
            ),
        ];
        for (i, (headers, body, status)) in cases.into_iter().enumerate() {
            let r = send(addr, "POST", "/v2/jobs/activation", &headers, body).await.unwrap();
            assert_eq!(r.status, status, "case {i}");
            assert_eq!(r.headers.get(CONTENT_TYPE).unwrap(), "application/problem+json");
        }
        assert_eq!(
            send(addr, "GET", "/v2/jobs/activation", &[], vec![])
                .await
                .unwrap()
                .status,
            405
        );
        assert_eq!(
            send(addr, "POST", "/v2/nothing", &[], vec![]).await.unwrap().status,
            404
        );
        let r = post_json(addr, "/v2/jobs/abc/completion", &json!({}), None)
            .await
            .unwrap();
        assert_eq!(r.status, 400);
        let v = s.violations();
        assert_eq!(v.len(), 10, "{v:?}");
        assert!(v.iter().all(Violation::rejected));
        assert_eq!(v.iter().filter(|v| v.kind == ViolationKind::Schema).count(), 6);
        assert_eq!(s.activation_requests(), 0);
    }

    #[tokio::test]
    async fn basic_auth() {
        let cfg = StandInConfig {
            auth: AuthMode::Basic {
                user: "demo".into(),
                password: "s3cret".into(),
            },
            ..StandInConfig::default()
        };
        assert!(!format!("{cfg:?}").contains("s3cret"));
        let s = CamundaStandIn::start(cfg).unwrap();
        let good = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("demo:s3cret")
        );
        let wrong = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("demo:nope")
        );
        let r = activate(&s, -1).await;
        assert_eq!(r.status, 401);
        assert!(r.headers.get(WWW_AUTHENTICATE).is_some());
        let r = activate_as(&s, &wrong).await;
        assert_eq!(r.status, 401);
        let r = activate_as(&s, &good).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            s.auth_seen(),
            AuthSeen {
                none: 1,
                basic: 2,
                bearer: 0,
                other: 0
            }
        );
    }

    #[tokio::test]
    async fn oauth_tokens_are_issued_checked_and_expired() {
        let cfg = StandInConfig {
            auth: AuthMode::OAuth {
                client_id: "worker".into(),
                client_secret: "s3cret".into(),
                audience: "zeebe-api".into(),
                token_ttl: Duration::from_secs(300),
            },
            ..StandInConfig::default()
        };
        let s = CamundaStandIn::start(cfg).unwrap();
        assert!(!format!("{s:?}").contains("s3cret"));
        let form = [("content-type", "application/x-www-form-urlencoded")];
        let bad_secret =
            b"grant_type=client_credentials&client_id=worker&client_secret=nope&audience=zeebe-api".to_vec();
        let r = send(s.addr(), "POST", "/oauth/token", &form, bad_secret).await.unwrap();
        assert_eq!(r.status, 401);
        let body = b"grant_type=client_credentials&client_id=worker&client_secret=s3cret&audience=zeebe-api".to_vec();
        let r = send(s.addr(), "POST", "/oauth/token", &form, body.clone())
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        let t = r.json();
        assert_eq!(t["token_type"], "Bearer");
        assert_eq!(t["expires_in"], 300);
        let bearer = format!("Bearer {}", t["access_token"].as_str().unwrap());
        let r = activate_as(&s, &bearer).await;
        assert_eq!(r.status, 200);
        let r = activate_as(&s, "Bearer forged").await;
        assert_eq!(r.status, 401);
        s.expire_tokens_now();
        let r = activate_as(&s, &bearer).await;
        assert_eq!(r.status, 401);
        let r = send(s.addr(), "POST", "/oauth/token", &form, body).await.unwrap();
        let bearer = format!("Bearer {}", r.json()["access_token"].as_str().unwrap());
        let r = activate_as(&s, &bearer).await;
        assert_eq!(r.status, 200);
        assert_eq!(s.token_requests(), 3);
    }

    #[tokio::test]
    async fn documents_upload_and_download() {
        let s = CamundaStandIn::start(StandInConfig::default()).unwrap();
        let boundary = "XyZ123";
        let mut body = Vec::new();
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.json\"\r\nContent-Type: application/json\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(b"{\"Blocks\":[]}\r\nnot a boundary");
        body.extend_from_slice(
            format!(
                "\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n{{\"fileName\":\"result.json\",\"customProperties\":{{\"k\":\"v\"}}}}\r\n--{boundary}--\r\n"
            )
            .as_bytes(),
        );
        let ct = format!("multipart/form-data; boundary={boundary}");
        let r = send(
            s.addr(),
            "POST",
            "/v2/documents?documentId=doc-1",
            &[("content-type", ct.as_str())],
            body.clone(),
        )
        .await
        .unwrap();
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let reference = r.json();
        assert_eq!(reference["camunda.document.type"], "camunda");
        assert_eq!(reference["storeId"], "in-memory");
        assert_eq!(reference["documentId"], "doc-1");
        assert_eq!(reference["metadata"]["fileName"], "result.json");
        assert_eq!(reference["metadata"]["contentType"], "application/json");
        assert_eq!(s.document("doc-1").unwrap(), b"{\"Blocks\":[]}\r\nnot a boundary");
        // The same id again is a conflict.
        let r = send(
            s.addr(),
            "POST",
            "/v2/documents?documentId=doc-1",
            &[("content-type", ct.as_str())],
            body,
        )
        .await
        .unwrap();
        assert_eq!(r.status, 409);

        let put = s.put_document("in", b"%PDF-1.7");
        let hash = put["contentHash"].as_str().unwrap().to_string();
        let r = send(
            s.addr(),
            "GET",
            &format!("/v2/documents/in?contentHash={hash}"),
            &[],
            vec![],
        )
        .await
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"%PDF-1.7");
        assert_eq!(r.headers.get(CONTENT_TYPE).unwrap(), "application/octet-stream");
        let r = send(s.addr(), "GET", "/v2/documents/missing", &[], vec![])
            .await
            .unwrap();
        assert_eq!(r.status, 404);
        assert_eq!(r.headers.get(CONTENT_TYPE).unwrap(), "application/problem+json");
        let r = send(s.addr(), "GET", "/v2/documents/in?contentHash=00", &[], vec![])
            .await
            .unwrap();
        assert_eq!(r.status, 400);
        let r = send(
            s.addr(),
            "POST",
            "/v2/documents",
            &[("content-type", "application/json")],
            b"{}".to_vec(),
        )
        .await
        .unwrap();
        assert_eq!(r.status, 415);
    }

    #[tokio::test]
    async fn injected_failures_and_unavailability() {
        let s = CamundaStandIn::start(StandInConfig::default()).unwrap();
        s.fail_next(2, 503);
        for _ in 0..2 {
            let r = activate(&s, -1).await;
            assert_eq!(r.status, 503);
            assert_eq!(r.json()["title"], "RESOURCE_EXHAUSTED");
        }
        let r = activate(&s, -1).await;
        assert_eq!(r.status, 200);
        assert_eq!(s.injected_failures(), 2);
        s.set_unavailable(true);
        assert!(post_json(s.addr(), "/v2/jobs/activation", &activation("t", -1), None)
            .await
            .is_err());
        s.set_unavailable(false);
        s.set_delay(Duration::from_millis(100));
        let started = Instant::now();
        let r = activate(&s, -1).await;
        assert_eq!(r.status, 200);
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert!(s.violations().is_empty());
    }

    #[test]
    fn start_in_thread_serves_sync_code() {
        let s = CamundaStandIn::start_in_thread(StandInConfig::default()).unwrap();
        let key = s.create_job(JobSpec::new("t", json!({})));
        let addr = s.addr();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let r = rt
            .block_on(post_json(addr, "/v2/jobs/activation", &activation("t", -1), None))
            .unwrap();
        assert_eq!(r.json()["jobs"][0]["jobKey"], json!(key));
        let k = key.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(post_json(addr, &format!("/v2/jobs/{k}/completion"), &json!({}), None))
                .unwrap();
        });
        assert!(s.wait_until(|snap| snap.completions.len() == 1, Duration::from_secs(5)));
        assert!(s.url().starts_with("http://127.0.0.1:") && s.url().ends_with("/v2"));
    }
}
