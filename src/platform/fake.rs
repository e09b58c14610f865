//! A deterministic platform for unit tests: virtual time, counting randomness,
//! a document store in memory, and a host that puts them together.

use super::documents::{sha256_hex, CreateError, DocumentStore, StoreError};
use super::http::fake::FakeHttp;
use super::{Context, Platform, RuntimeMode};
use crate::error::Result;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// Every seam faked; `run` lends them to code under test as a [`Context`].
#[derive(Default)]
pub struct FakeHost {
    pub http: FakeHttp,
    pub platform: FakePlatform,
    pub store: FakeStore,
    pub mode: RuntimeMode,
}

impl FakeHost {
    pub fn answering(responses: Vec<Result<crate::platform::http::HttpResponse>>) -> Self {
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
    /// What `create` was told of each document it created, by id: (content type, file name).
    pub created: BTreeMap<String, (String, String)>,
    /// When set, `create` answers this instead of storing.
    pub refuse_create: Option<CreateError>,
}

impl DocumentStore for FakeStore {
    fn read(&mut self, _store: Option<&str>, id: &str, _hash: Option<&str>) -> std::result::Result<Vec<u8>, StoreError> {
        self.documents.get(id).cloned().ok_or(StoreError::NotFound)
    }

    /// Stores the document in memory under `fake-N` and answers its reference.
    fn create(
        &mut self,
        content: &[u8],
        content_type: &str,
        file_name: &str,
    ) -> std::result::Result<String, CreateError> {
        if let Some(refusal) = &self.refuse_create {
            return Err(refusal.clone());
        }
        let id = format!("fake-{}", self.created.len() + 1);
        self.documents.insert(id.clone(), content.to_vec());
        self.created
            .insert(id.clone(), (content_type.to_string(), file_name.to_string()));
        Ok(serde_json::json!({
            "camunda.document.type": "camunda",
            "storeId": "fake",
            "documentId": id,
            "contentHash": sha256_hex(content),
            "metadata": {"contentType": content_type, "size": content.len(), "fileName": file_name},
        })
        .to_string())
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
    /// `host:port` entries the operator allowed.
    pub operator_allowed: Vec<String>,
    pub memory_limit: Option<u64>,
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
            operator_allowed: Vec::new(),
            memory_limit: None,
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
    fn operator_allows(&self, host: &str, port: u16) -> bool {
        self.operator_allowed.contains(&format!("{host}:{port}"))
    }
    fn memory_limit(&self) -> Option<u64> {
        self.memory_limit
    }
}
