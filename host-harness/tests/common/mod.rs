//! Shared by the harness's integration tests: one compiled component per test
//! binary, and a guard against testing a stale build.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod moto;
pub mod worker;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;
use textract_host::engine::Harness;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

pub fn component_path() -> PathBuf {
    textract_host::default_component_path()
}

/// The component, compiled once for this test binary. Fails when the build is
/// older than the guest's sources, so tests never pass against stale code.
pub fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let path = component_path();
        let built = std::fs::metadata(&path).and_then(|m| m.modified()).unwrap_or_else(|_| {
            panic!(
                "no component at {}: run `make component` (make test does)",
                path.display()
            )
        });
        if std::env::var_os("TEXTRACT_COMPONENT").is_none() {
            let root = workspace();
            let newest = newest_mtime(&[root.join("src"), root.join("wit")]);
            assert!(
                built >= newest,
                "{} is older than the guest sources: run `make component` (make test does)",
                path.display()
            );
        }
        Harness::load(&path).unwrap()
    })
}

fn newest_mtime(paths: &[PathBuf]) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        if let Ok(meta) = std::fs::metadata(&p) {
            if meta.is_dir() {
                if let Ok(entries) = std::fs::read_dir(&p) {
                    stack.extend(entries.flatten().map(|e| e.path()));
                }
            } else if let Ok(m) = meta.modified() {
                newest = newest.max(m);
            }
        }
    }
    newest
}

/// A file name in the temp dir that no other test or process uses:
/// `{stem}-{pid}-{nanoseconds}.{extension}`.
pub fn temp_path(stem: &str, extension: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!("{stem}-{}-{nanos}.{extension}", std::process::id()))
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A request as the local test server read it.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub request_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A one-thread HTTP/1.1 server on 127.0.0.1 that answers `responses` in order,
/// one connection each, then stops. Returns its port and the requests it saw.
/// One canned answer: status, headers, body.
pub type Canned = (u16, Vec<(&'static str, String)>, Vec<u8>);

pub fn serve(responses: Vec<Canned>) -> (u16, std::thread::JoinHandle<Vec<RawRequest>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for (status, headers, body) in responses {
            let (stream, _) = listener.accept().unwrap();
            stream
                .set_read_timeout(Some(std::time::Duration::from_secs(20)))
                .unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut req_headers = Vec::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let line = line.trim_end().to_string();
                if line.is_empty() {
                    break;
                }
                let (k, v) = line.split_once(':').unwrap();
                req_headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
            let len: usize = req_headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .map(|(_, v)| v.parse().unwrap())
                .unwrap_or(0);
            let mut req_body = vec![0; len];
            reader.read_exact(&mut req_body).unwrap();
            seen.push(RawRequest {
                request_line: request_line.trim_end().to_string(),
                headers: req_headers,
                body: req_body,
            });
            let mut out = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (k, v) in &headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            let mut stream = stream;
            stream.write_all(out.as_bytes()).unwrap();
            stream.write_all(&body).unwrap();
            stream.flush().unwrap();
        }
        seen
    });
    (port, handle)
}
