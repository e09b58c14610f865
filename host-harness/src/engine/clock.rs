//! Each execution's clock. Live runs get real time; replay gets a wall clock
//! pinned to the cassette's instant that, like the monotonic clock, moves only
//! when the guest sleeps: a ten-minute poll window is simulated, not waited out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

/// A clock for one execution: the wall clock starts at a pinned instant (replay)
/// or now (live), and both clocks advance only with the shared elapsed counter
/// in virtual mode.
#[derive(Clone)]
pub struct ExecutionClock {
    start: Duration,
    elapsed_ns: Arc<AtomicU64>,
    started: std::time::Instant,
    pub(crate) virtual_time: bool,
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

    pub(crate) fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .elapsed_ns
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| Some(v.saturating_add(nanos)));
    }

    pub(crate) fn elapsed(&self) -> u64 {
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
