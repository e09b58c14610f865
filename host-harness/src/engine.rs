//! Loads the connector component once and runs executions of it, each in a
//! fresh store with its own WASI context, clock, stderr and HTTP transport.
//! This is the part a multi-tenant runtime would embed.

use crate::egress::EgressPolicy;
use crate::transport::{Journal, Mode, Transport};
use anyhow::{anyhow, Context as _, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wasmtime::component::{Component, HasSelf, Linker, Resource, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::p2::{subscribe, DynPollable, Pollable};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "connector",
        exports: { default: async },
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        },
    });
}

pub use bindings::textract::connector::document_store::ReadError;
pub use bindings::{ConnectorError, ErrorKind};

/// The guest's memory cap unless the operator sets one.
pub const DEFAULT_MAX_MEMORY: usize = 1 << 30;

/// The state of one execution's store.
pub struct HostState {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    transport: Transport,
    clock: ExecutionClock,
    limits: MemoryLimits,
    /// The folder behind the `document-store` import (one file per document id).
    documents: Option<PathBuf>,
}

/// The largest document the store hands out: Textract's 500 MB async limit, and some.
const MAX_DOCUMENT_BYTES: u64 = 512 * 1024 * 1024;

impl bindings::textract::connector::document_store::Host for HostState {
    fn read(&mut self, _store_id: Option<String>, document_id: String) -> std::result::Result<Vec<u8>, ReadError> {
        let Some(dir) = &self.documents else {
            return Err(ReadError::Unavailable("this runtime has no document store (see --documents)".into()));
        };
        // One file per id, and nothing else: no separators, no parent or hidden entries.
        let id_is_plain = !document_id.is_empty()
            && !document_id.starts_with('.')
            && !document_id.contains(['/', '\\', '\0']);
        if !id_is_plain {
            return Err(ReadError::Denied(format!("'{document_id}' is not a document id")));
        }
        let path = dir.join(&document_id);
        match std::fs::metadata(&path) {
            Err(_) => return Err(ReadError::NotFound),
            Ok(meta) if !meta.is_file() => return Err(ReadError::NotFound),
            Ok(meta) if meta.len() > MAX_DOCUMENT_BYTES => {
                return Err(ReadError::Denied(format!("the document is larger than {MAX_DOCUMENT_BYTES} bytes")))
            }
            Ok(_) => {}
        }
        std::fs::read(&path).map_err(|e| ReadError::Unavailable(e.kind().to_string()))
    }
}

/// Caps the guest's linear memory and remembers its peak.
struct MemoryLimits {
    max_bytes: usize,
    peak_bytes: usize,
}

impl wasmtime::ResourceLimiter for MemoryLimits {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
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
            let deadline = tokio::time::Instant::now().checked_add(duration).unwrap_or_else(|| {
                tokio::time::Instant::now() + Duration::from_secs(86_400 * 365)
            });
            let sleep = self.table.push(Sleep(deadline))?;
            subscribe(&mut self.table, sleep)
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.transport }
    }
}

/// A clock for one execution: the wall clock starts at a pinned instant (replay)
/// or now (live), and both clocks advance only with the shared elapsed counter
/// in virtual mode.
#[derive(Clone)]
pub struct ExecutionClock {
    start: Duration,
    elapsed_ns: Arc<AtomicU64>,
    started: std::time::Instant,
    virtual_time: bool,
}

impl ExecutionClock {
    /// Real time, as an operator's runtime would give.
    pub fn real() -> Self {
        ExecutionClock {
            start: SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default(),
            elapsed_ns: Arc::new(AtomicU64::new(0)),
            started: std::time::Instant::now(),
            virtual_time: false,
        }
    }

    /// Time pinned at `epoch_seconds`, moving only when the guest sleeps.
    pub fn pinned(epoch_seconds: u64) -> Self {
        ExecutionClock {
            start: Duration::from_secs(epoch_seconds),
            elapsed_ns: Arc::new(AtomicU64::new(0)),
            started: std::time::Instant::now(),
            virtual_time: true,
        }
    }

    fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .elapsed_ns
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| Some(v.saturating_add(nanos)));
    }

    fn elapsed(&self) -> u64 {
        if self.virtual_time {
            self.elapsed_ns.load(Ordering::SeqCst)
        } else {
            u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX)
        }
    }
}

impl HostWallClock for ExecutionClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }
    fn now(&self) -> Duration {
        self.start + Duration::from_nanos(self.elapsed())
    }
}

impl HostMonotonicClock for ExecutionClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        self.elapsed()
    }
}

/// How one execution is run.
pub struct ExecOptions {
    pub mode: Mode,
    pub policy: EgressPolicy,
    pub clock: ExecutionClock,
    /// Pass the guest's stderr to ours as it is written (the CLI), or keep it (tests).
    pub inherit_stderr: bool,
    /// Replay: the guest's `wasi:random` yields a fixed sequence (bytes 0, 1, 2, ...),
    /// so generated tokens are the same on every run and a cassette can hold them.
    pub deterministic_random: bool,
    /// The document store's folder, if the runtime has one.
    pub documents: Option<PathBuf>,
}

/// The guest's error, as the CLI prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct GuestError {
    pub kind: String,
    pub code: String,
    pub message: String,
    pub retryable: bool,
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
}

/// A compiled connector, ready to instantiate many times.
pub struct Harness {
    engine: Engine,
    component: Component,
    pre: bindings::ConnectorPre<HostState>,
}

impl Harness {
    pub fn engine_config() -> Config {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config
    }

    /// Loads a `.wasm` component (compiling it) or a `.cwasm` precompiled by this harness.
    pub fn load(path: &Path) -> Result<Harness> {
        let engine = Engine::new(&Self::engine_config()).map_err(|e| anyhow!("engine: {e}"))?;
        let component = if path.extension().is_some_and(|e| e == "cwasm") {
            // SAFETY: a .cwasm is native code; only files produced by `textract-host
            // compile` for this engine configuration are trusted here.
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
        bindings::textract::connector::document_store::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| anyhow!("linking the document store: {e}"))?;
        let instance_pre = linker
            .instantiate_pre(&component)
            .map_err(|e| anyhow!("component {} cannot run here: {e}", path.display()))?;
        let pre = bindings::ConnectorPre::new(instance_pre).map_err(|e| anyhow!("not a connector component: {e}"))?;
        Ok(Harness { engine, component, pre })
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

    pub async fn execute(&self, input: &str, options: ExecOptions) -> Result<Execution> {
        let stderr = MemoryOutputPipe::new(64 * 1024);
        let mut wasi = WasiCtxBuilder::new();
        wasi.wall_clock(options.clock.clone()).monotonic_clock(options.clock.clone());
        if options.inherit_stderr {
            wasi.inherit_stderr();
        } else {
            wasi.stderr(stderr.clone());
        }
        if options.deterministic_random {
            wasi.secure_random(wasmtime_wasi::Deterministic::new((0..=255).collect()));
            wasi.insecure_random(wasmtime_wasi::Deterministic::new((0..=255).rev().collect()));
            wasi.insecure_random_seed(0x7465_7874_7261_6374);
        }
        let journal = Arc::new(Mutex::new(Journal::default()));
        let transport = Transport { policy: Arc::new(options.policy), mode: options.mode, journal: journal.clone() };
        let clock = options.clock.clone();
        let state = HostState {
            table: ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            transport,
            clock: options.clock,
            limits: MemoryLimits { max_bytes: DEFAULT_MAX_MEMORY, peak_bytes: 0 },
            documents: options.documents,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);

        let instance = self
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| anyhow!("instantiating the connector failed: {e}"))?;
        let outcome = instance
            .call_execute(&mut store, input)
            .await
            .map_err(|e| anyhow!("the connector trapped: {e:?}"))
            .context("execution aborted")?;
        let peak_memory_bytes = store.data().limits.peak_bytes;
        drop(store);
        let journal = Arc::try_unwrap(journal)
            .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
            .unwrap_or_else(|shared| shared.lock().map(|j| j.clone()).unwrap_or_default());
        Ok(Execution {
            outcome: outcome.map_err(GuestError::from),
            stderr: String::from_utf8_lossy(&stderr.contents()).into_owned(),
            journal,
            peak_memory_bytes,
            clock_elapsed: Duration::from_nanos(clock.elapsed()),
        })
    }
}
