//! Loads the connector component once and runs executions of it, each in a
//! fresh store with its own WASI context, clock, grants, limits, stderr and
//! HTTP transport. This is the part a multi-tenant runtime would embed:
//! executions share nothing but the compiled code.

pub use clock::ExecutionClock;

pub mod clock;
pub mod documents;
pub mod runtime_log;
pub mod sandbox;
use crate::limits::Limits;
pub use crate::outcome::GuestError;
use crate::transport::egress::EgressPolicy;
use crate::transport::{Journal, Mode, Transport};
use anyhow::{anyhow, Result};
use documents::DocumentStore;
use sandbox::{Grants, RuntimeMode};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker, Resource, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::p2::{subscribe, DynPollable, Pollable};
use wasmtime_wasi::{HostMonotonicClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "connector",
        exports: { default: async },
        // The worker's store reads and creates over the network.
        imports: {
            "textract:connector/document-store.read": async,
            "textract:connector/document-store.create": async,
        },
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        },
    });
}

use bindings::textract::connector::document_store::{CreateError as WitCreateError, ReadError as WitReadError};
use bindings::textract::connector::runtime::RuntimeMode as WitMode;
pub use bindings::{ConnectorError, ErrorKind};

/// How often the epoch advances: the granularity of execution deadlines.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The state of one execution's store.
pub struct HostState {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    transport: Transport,
    clock: ExecutionClock,
    memory: MemoryLimits,
    /// The store behind the `document-store` import.
    documents: Option<Arc<dyn DocumentStore>>,
    mode: RuntimeMode,
}

impl bindings::textract::connector::runtime::Host for HostState {
    fn mode(&mut self) -> WitMode {
        match self.mode {
            RuntimeMode::Saas => WitMode::Saas,
            RuntimeMode::SelfManaged => WitMode::SelfManaged,
        }
    }

    fn operator_allows(&mut self, host: String, port: u16) -> bool {
        self.transport.policy.operator_allows(&host, port)
    }

    fn memory_limit(&mut self) -> u64 {
        self.memory.max_bytes as u64
    }
}

impl bindings::textract::connector::document_store::Host for HostState {
    async fn read(
        &mut self,
        store_id: Option<String>,
        document_id: String,
        content_hash: Option<String>,
    ) -> std::result::Result<Vec<u8>, WitReadError> {
        let Some(store) = self.documents.clone() else {
            return Err(WitReadError::Unavailable(
                "this runtime has no document store (see --documents)".into(),
            ));
        };
        store
            .read(store_id.as_deref(), &document_id, content_hash.as_deref())
            .await
            .map_err(|e| match e {
                documents::ReadError::NotFound => WitReadError::NotFound,
                documents::ReadError::Denied(why) => WitReadError::Denied(why),
                documents::ReadError::Unavailable(why) => WitReadError::Unavailable(why),
            })
    }

    async fn create(
        &mut self,
        content: Vec<u8>,
        content_type: String,
        file_name: String,
    ) -> std::result::Result<String, WitCreateError> {
        let Some(store) = self.documents.clone() else {
            return Err(WitCreateError::Unsupported(
                "this runtime has no document store (see --documents)".into(),
            ));
        };
        store
            .create(content, &content_type, &file_name)
            .await
            .map_err(|e| match e {
                documents::CreateError::Unsupported(why) => WitCreateError::Unsupported(why),
                documents::CreateError::Denied(why) => WitCreateError::Denied(why),
                documents::CreateError::Unavailable(why) => WitCreateError::Unavailable(why),
            })
    }
}

/// Caps the guest's linear memory and remembers its peak, and whether the cap was hit.
struct MemoryLimits {
    max_bytes: usize,
    peak_bytes: usize,
    refused: bool,
}

impl wasmtime::ResourceLimiter for MemoryLimits {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.refused = true;
            return Ok(false);
        }
        self.peak_bytes = self.peak_bytes.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// A sleep that is over at once: virtual time already moved past it.
struct Elapsed;

#[wasmtime_wasi::async_trait]
impl Pollable for Elapsed {
    async fn ready(&mut self) {}
}

/// A real sleep.
struct Sleep(tokio::time::Instant);

#[wasmtime_wasi::async_trait]
impl Pollable for Sleep {
    async fn ready(&mut self) {
        tokio::time::sleep_until(self.0).await;
    }
}

impl HostState {
    /// `wasi:clocks/monotonic-clock.subscribe-duration`, on this execution's clock:
    /// in virtual time the clock jumps forward and the sleep is over at once.
    fn subscribe_sleep(&mut self, duration: Duration) -> wasmtime::Result<Resource<DynPollable>> {
        if self.clock.virtual_time {
            self.clock.advance(duration);
            let sleep = self.table.push(Elapsed)?;
            subscribe(&mut self.table, sleep)
        } else {
            let deadline = tokio::time::Instant::now()
                .checked_add(duration)
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86_400 * 365));
            let sleep = self.table.push(Sleep(deadline))?;
            subscribe(&mut self.table, sleep)
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.transport,
        }
    }
}

/// How one execution is run.
pub struct ExecOptions {
    pub mode: Mode,
    pub policy: EgressPolicy,
    pub clock: ExecutionClock,
    /// Pass the guest's stderr to ours as it is written, whole lines with control
    /// characters escaped (the CLI), or keep it as it is (tests).
    pub inherit_stderr: bool,
    /// Replay: the guest's `wasi:random` yields a fixed sequence (bytes 0, 1, 2, ...),
    /// so generated tokens are the same on every run and a cassette can hold them.
    pub deterministic_random: bool,
    /// The document store, if the runtime has one.
    pub documents: Option<Arc<dyn DocumentStore>>,
    pub runtime: RuntimeMode,
    /// Used in self-managed mode only.
    pub grants: Grants,
    pub limits: Limits,
}

impl ExecOptions {
    /// A replay in SaaS mode with the default limits.
    pub fn replay(mode: Mode, policy: EgressPolicy, clock: ExecutionClock) -> Self {
        ExecOptions {
            mode,
            policy,
            clock,
            inherit_stderr: false,
            deterministic_random: true,
            documents: None,
            runtime: RuntimeMode::Saas,
            grants: Grants::default(),
            limits: Limits::default(),
        }
    }
}

impl From<ConnectorError> for GuestError {
    fn from(e: ConnectorError) -> Self {
        GuestError {
            kind: match e.kind {
                ErrorKind::InvalidInput => "invalid-input",
                ErrorKind::Unauthorized => "unauthorized",
                ErrorKind::Throttled => "throttled",
                ErrorKind::Upstream => "upstream",
                ErrorKind::Internal => "internal",
            }
            .to_string(),
            code: e.code,
            message: e.message,
            retryable: e.retryable,
        }
    }
}

/// What one execution produced.
#[derive(Debug)]
pub struct Execution {
    pub outcome: std::result::Result<String, GuestError>,
    pub stderr: String,
    pub journal: Journal,
    /// The guest's largest linear memory during the execution.
    pub peak_memory_bytes: usize,
    /// Time on the execution's clock (virtual in replay).
    pub clock_elapsed: Duration,
    /// Where the wall-clock time went (for the bench).
    pub timings: Timings,
}

/// The parts of one execution's wall-clock time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Creating the store and instantiating the component.
    pub instantiate: Duration,
    /// The call into the guest, from arguments in to the result lifted out.
    pub call: Duration,
    /// Inside the call: the send hook answering requests and handing bodies over.
    pub http: Duration,
    /// Dropping the store (the pool takes the slot back).
    pub drop: Duration,
}

/// How the engine allocates instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineSettings {
    /// Pre-reserved instance slots (the pooling allocator), or on-demand allocation.
    pub pooling: bool,
    /// Slots in the pool: the most executions that can run at once.
    pub pool_size: u32,
    /// The largest linear memory a slot holds; executions may be capped lower.
    pub max_memory: usize,
    /// Linear memory a pool slot keeps resident (zeroed in place) between executions.
    pub keep_resident: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            pooling: true,
            pool_size: 64,
            max_memory: Limits::default().max_memory,
            keep_resident: KEEP_RESIDENT_BYTES,
        }
    }
}

/// Advances an engine's epoch until dropped: execution deadlines count its ticks.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: &Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, flag) = (engine.weak(), stop.clone());
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                match engine.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        });
        EpochTicker { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Set (to anything) to have the engine write a perf map of the guest's code.
pub const PERF_MAP_VARIABLE: &str = "TEXTRACT_HOST_PERF_MAP";

/// Linear memory kept resident per pool slot between executions.
pub const KEEP_RESIDENT_BYTES: usize = 16 * 1024 * 1024;

/// A compiled connector, ready to instantiate many times.
pub struct Harness {
    engine: Engine,
    component: Component,
    pre: bindings::ConnectorPre<HostState>,
    settings: EngineSettings,
    _ticker: EpochTicker,
}

impl Harness {
    /// The engine configuration; `compile` and `load` must agree on it.
    pub fn engine_config(settings: &EngineSettings) -> Config {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        // A profiling aid (`make profile`): names the compiled guest functions in
        // /tmp/perf-PID.map so that `perf report` shows them. Off unless asked.
        if std::env::var_os(PERF_MAP_VARIABLE).is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        if settings.pooling {
            let mut pool = PoolingAllocationConfig::default();
            let n = settings.pool_size.max(1);
            pool.total_component_instances(n)
                .total_core_instances(n * 8)
                .max_core_instances_per_component(8)
                .total_memories(n * 2)
                .max_memories_per_component(2)
                .total_tables(n * 8)
                .total_stacks(n)
                .max_memory_size(settings.max_memory)
                // A freed slot's first pages are zeroed in place instead of handed
                // back to the kernel: the next execution does not fault them in
                // again (727 page faults per SYNC call without it). Zeroed all the
                // same, so nothing passes from one tenant to the next.
                .linear_memory_keep_resident(settings.keep_resident.min(settings.max_memory));
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        config
    }

    /// Precompiles a component to native code for this engine configuration (a `.cwasm`).
    pub fn compile(component: &Path, output: &Path, settings: &EngineSettings) -> Result<usize> {
        let engine = Engine::new(&Self::engine_config(settings)).map_err(|e| anyhow!("engine: {e}"))?;
        let wasm = std::fs::read(component).map_err(|e| anyhow!("cannot read {}: {e}", component.display()))?;
        let native = engine
            .precompile_component(&wasm)
            .map_err(|e| anyhow!("cannot compile {}: {e}", component.display()))?;
        std::fs::write(output, &native).map_err(|e| anyhow!("cannot write {}: {e}", output.display()))?;
        Ok(native.len())
    }

    /// Loads a `.wasm` component (compiling it) or a `.cwasm` precompiled by this harness.
    pub fn load(path: &Path) -> Result<Harness> {
        Self::load_with(path, EngineSettings::default())
    }

    pub fn load_with(path: &Path, settings: EngineSettings) -> Result<Harness> {
        let engine = Engine::new(&Self::engine_config(&settings)).map_err(|e| anyhow!("engine: {e}"))?;
        let component = if path.extension().is_some_and(|e| e == "cwasm") {
            // SAFETY: a .cwasm is native code; only files produced by `textract-host
            // compile` for this engine configuration are trusted here, and wasmtime
            // checks that the file was compiled for a compatible configuration.
            unsafe { Component::deserialize_file(&engine, path) }
        } else {
            Component::from_file(&engine, path)
        }
        .map_err(|e| anyhow!("cannot load component {}: {e}", path.display()))?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| anyhow!("linking WASI: {e}"))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(|e| anyhow!("linking wasi-http: {e}"))?;
        Self::link_execution_clock(&mut linker)?;
        bindings::textract::connector::document_store::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| anyhow!("linking the document store: {e}"))?;
        bindings::textract::connector::runtime::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| anyhow!("linking the runtime interface: {e}"))?;
        let instance_pre = linker
            .instantiate_pre(&component)
            .map_err(|e| anyhow!("component {} cannot run here: {e}", path.display()))?;
        let pre = bindings::ConnectorPre::new(instance_pre).map_err(|e| anyhow!("not a connector component: {e}"))?;
        let ticker = EpochTicker::start(&engine);
        Ok(Harness {
            engine,
            component,
            pre,
            settings,
            _ticker: ticker,
        })
    }

    /// Replaces the monotonic clock's sleeps with ones on each execution's own
    /// clock, so that replay simulates a ten-minute poll window instead of waiting it out.
    fn link_execution_clock(linker: &mut Linker<HostState>) -> Result<()> {
        linker.allow_shadowing(true);
        let mut clocks = linker
            .instance("wasi:clocks/monotonic-clock@0.2.12")
            .map_err(|e| anyhow!("linking the clock: {e}"))?;
        clocks
            .func_wrap("subscribe-duration", |mut store, (nanos,): (u64,)| {
                let state: &mut HostState = store.data_mut();
                Ok((state.subscribe_sleep(Duration::from_nanos(nanos))?,))
            })
            .map_err(|e| anyhow!("linking the clock: {e}"))?;
        clocks
            .func_wrap("subscribe-instant", |mut store, (when,): (u64,)| {
                let state: &mut HostState = store.data_mut();
                let now = HostMonotonicClock::now(&state.clock);
                Ok((state.subscribe_sleep(Duration::from_nanos(when.saturating_sub(now)))?,))
            })
            .map_err(|e| anyhow!("linking the clock: {e}"))?;
        linker.allow_shadowing(false);
        Ok(())
    }

    /// The component's imports, by name (`wasi:http/outgoing-handler@0.2.12`, ...).
    pub fn imports(&self) -> Vec<String> {
        self.component
            .component_type()
            .imports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect()
    }

    /// Instantiates a fresh instance in a fresh store and returns at once (the
    /// per-execution start-up cost, for benchmarks).
    pub async fn instantiate_only(&self) -> Result<()> {
        let options = ExecOptions::replay(Mode::Live, EgressPolicy::deny_all(), ExecutionClock::pinned(0));
        let (mut store, _, _) = self.store("", options)?;
        self.pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| anyhow!("instantiation: {e}"))?;
        Ok(())
    }

    fn store(
        &self,
        input: &str,
        options: ExecOptions,
    ) -> Result<(Store<HostState>, MemoryOutputPipe, Arc<Mutex<Journal>>)> {
        let stderr = MemoryOutputPipe::new(64 * 1024);
        let mut wasi = WasiCtxBuilder::new();
        wasi.wall_clock(options.clock.clone())
            .monotonic_clock(options.clock.clone());
        if options.inherit_stderr {
            wasi.stderr(runtime_log::GuestStderr);
        } else {
            wasi.stderr(stderr.clone());
        }
        if options.deterministic_random {
            wasi.secure_random(wasmtime_wasi::Deterministic::new((0..=255).collect()));
            wasi.insecure_random(wasmtime_wasi::Deterministic::new((0..=255).rev().collect()));
            wasi.insecure_random_seed(0x7465_7874_7261_6374);
        }
        let mut policy = options.policy;
        if options.runtime == RuntimeMode::SelfManaged {
            sandbox::grant_self_managed(&mut wasi, &options.grants, &mut policy)?;
            policy.grant_endpoint_of(input);
        }
        let journal = Arc::new(Mutex::new(Journal::default()));
        let transport = Transport {
            policy: Arc::new(policy),
            mode: options.mode,
            journal: journal.clone(),
            limits: options.limits,
        };
        let max_memory = options.limits.max_memory.min(self.settings.max_memory);
        let state = HostState {
            table: ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            transport,
            clock: options.clock,
            memory: MemoryLimits {
                max_bytes: max_memory,
                peak_bytes: 0,
                refused: false,
            },
            documents: options.documents,
            mode: options.runtime,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.memory);
        let ticks = (options.limits.timeout.as_millis() / EPOCH_TICK.as_millis()).max(1);
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        store.epoch_deadline_trap();
        Ok((store, stderr, journal))
    }

    pub async fn execute(&self, input: &str, options: ExecOptions) -> Result<Execution> {
        let limits = options.limits;
        let clock = options.clock.clone();
        let started = std::time::Instant::now();
        let (mut store, stderr, journal) = self.store(input, options)?;
        let mut timings = Timings::default();

        let run = async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            timings.instantiate = started.elapsed();
            let called = std::time::Instant::now();
            let result = instance.call_execute(&mut store, input).await;
            timings.call = called.elapsed();
            result
        };
        let finished = tokio::time::timeout(limits.timeout, run).await;
        let state = store.data();
        let outcome = match finished {
            Err(_) => Err(time_limit(limits.timeout)),
            Ok(Ok(result)) => result.map_err(GuestError::from),
            Ok(Err(trap)) if state.memory.refused => Err(GuestError::limit(
                "MemoryLimitExceeded",
                format!(
                    "The execution needed more than its memory limit of {} bytes and was stopped ({})",
                    state.memory.max_bytes,
                    runtime_log::trap_reason(&trap)
                ),
            )),
            Ok(Err(trap)) if trap.downcast_ref::<Trap>() == Some(&Trap::Interrupt) => Err(time_limit(limits.timeout)),
            Ok(Err(trap)) => Err(GuestError {
                kind: "internal".into(),
                code: "GuestTrap".into(),
                // The tenant gets one plain line; the backtrace goes to the operator's log.
                message: format!(
                    "The connector stopped unexpectedly ({}); the runtime's log has the details",
                    runtime_log::log_trap(&trap)
                ),
                retryable: false,
            }),
        };
        let peak_memory_bytes = state.memory.peak_bytes;
        let dropped = std::time::Instant::now();
        drop(store);
        timings.drop = dropped.elapsed();
        let journal = Arc::try_unwrap(journal)
            .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
            .unwrap_or_else(|shared| shared.lock().map(|j| j.clone()).unwrap_or_default());
        // A transport limit decides the outcome, whatever the guest made of the refusal.
        let outcome = match &journal.limit_exceeded {
            Some(limit) => Err(limit.clone()),
            None => outcome,
        };
        let http = journal.http_time;
        Ok(Execution {
            outcome,
            stderr: String::from_utf8_lossy(&stderr.contents()).into_owned(),
            journal,
            peak_memory_bytes,
            clock_elapsed: Duration::from_nanos(clock.elapsed()),
            timings: Timings { http, ..timings },
        })
    }
}

fn time_limit(timeout: Duration) -> GuestError {
    GuestError::limit(
        "TimeLimitExceeded",
        format!(
            "The execution ran longer than its time limit of {:.1} s and was stopped",
            timeout.as_secs_f64()
        ),
    )
}
