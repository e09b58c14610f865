//! What an execution needs from its host, and the entry point that ties input
//! parsing, validation and execution together. Everything here is pure over the
//! [`HttpClient`] and [`Platform`] seams, so it runs natively in unit tests.

use crate::credentials::chain;
use crate::document::DocumentStore;
use crate::error::Result;
use crate::http::HttpClient;
use crate::validation::RuntimeMode;
use crate::{execution, input, validation};
use std::time::{Duration, SystemTime};

/// Time, randomness and progress output, as the host grants them. In the
/// component these are wasi's clocks, `wasi:random` and stderr.
pub trait Platform {
    /// Wall-clock time, for `x-amz-date`.
    fn now(&self) -> SystemTime;
    /// Monotonic time since an arbitrary origin, for poll windows.
    fn monotonic(&self) -> Duration;
    fn sleep(&mut self, duration: Duration);
    fn random_u64(&mut self) -> u64;
    /// One short progress line for the operator (stderr in the component).
    fn progress(&mut self, line: &str);
    /// An environment variable the runtime granted (none in SaaS mode).
    fn env(&self, name: &str) -> Option<String>;
    /// A file the runtime granted (none in SaaS mode); the error says why not.
    fn read_file(&self, path: &str) -> std::result::Result<Vec<u8>, String>;
}

/// The host services of one execution.
pub struct Context<'a> {
    pub http: &'a mut dyn HttpClient,
    pub platform: &'a mut dyn Platform,
    pub documents: &'a mut dyn DocumentStore,
    pub mode: RuntimeMode,
}

/// Runs one task: JSON variables in, Camunda-shaped JSON result out.
pub fn execute(ctx: &mut Context<'_>, raw_input: &str) -> Result<String> {
    let mut parsed = input::parse(raw_input)?;
    let chain = parsed.auth == Some(input::Auth::DefaultChain) && ctx.mode == RuntimeMode::SelfManaged;
    if chain && parsed.region.as_deref().is_none_or(|r| r.trim().is_empty()) {
        // The chain's grants may name the region (AWS_REGION, the profile).
        parsed.region = chain::resolve_region(ctx.platform);
    }
    let mut task = validation::validate(parsed, ctx.mode)?;
    if task.default_chain {
        let (credentials, source) = chain::resolve(ctx, &task.region, task.endpoint_override.as_ref())?;
        ctx.platform.progress(&format!(
            "textract: using credentials from {source} (access key {})",
            credentials.redacted_key_id()
        ));
        task.credentials = credentials;
    }
    execution::run(ctx, &task)
}

#[cfg(test)]
pub mod fake {
    //! A deterministic platform for unit tests: virtual time, counting randomness,
    //! a document store in memory, and a host that puts them together.
    use super::*;
    use crate::document::StoreError;
    use crate::http::fake::FakeHttp;
    use std::collections::BTreeMap;

    /// Every seam faked; `run` lends them to code under test as a [`Context`].
    #[derive(Default)]
    pub struct FakeHost {
        pub http: FakeHttp,
        pub platform: FakePlatform,
        pub store: FakeStore,
        pub mode: RuntimeMode,
    }

    impl FakeHost {
        pub fn answering(responses: Vec<Result<crate::http::HttpResponse>>) -> Self {
            FakeHost {
                http: FakeHttp::answering(responses),
                ..FakeHost::default()
            }
        }

        pub fn run<T>(&mut self, f: impl FnOnce(&mut Context<'_>) -> T) -> T {
            let mut ctx = Context {
                http: &mut self.http,
                platform: &mut self.platform,
                documents: &mut self.store,
                mode: self.mode,
            };
            f(&mut ctx)
        }
    }

    #[derive(Default, Clone)]
    pub struct FakeStore {
        pub documents: BTreeMap<String, Vec<u8>>,
    }

    impl DocumentStore for FakeStore {
        fn read(&mut self, _store: Option<&str>, id: &str) -> std::result::Result<Vec<u8>, StoreError> {
            self.documents.get(id).cloned().ok_or(StoreError::NotFound)
        }
    }

    pub struct FakePlatform {
        pub start: SystemTime,
        pub elapsed: Duration,
        pub sleeps: Vec<Duration>,
        pub counter: u64,
        pub lines: Vec<String>,
        pub env: BTreeMap<String, String>,
        pub files: BTreeMap<String, Vec<u8>>,
    }

    impl Default for FakePlatform {
        fn default() -> Self {
            FakePlatform {
                start: SystemTime::UNIX_EPOCH + Duration::from_secs(1_768_469_400),
                elapsed: Duration::ZERO,
                sleeps: Vec::new(),
                counter: 0,
                lines: Vec::new(),
                env: BTreeMap::new(),
                files: BTreeMap::new(),
            }
        }
    }

    impl Platform for FakePlatform {
        fn now(&self) -> SystemTime {
            self.start + self.elapsed
        }
        fn monotonic(&self) -> Duration {
            self.elapsed
        }
        fn sleep(&mut self, duration: Duration) {
            self.sleeps.push(duration);
            self.elapsed += duration;
        }
        fn random_u64(&mut self) -> u64 {
            self.counter += 1;
            self.counter.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        }
        fn progress(&mut self, line: &str) {
            self.lines.push(line.to_string());
        }
        fn env(&self, name: &str) -> Option<String> {
            self.env.get(name).cloned()
        }
        fn read_file(&self, path: &str) -> std::result::Result<Vec<u8>, String> {
            self.files.get(path).cloned().ok_or_else(|| "not found".to_string())
        }
    }
}
