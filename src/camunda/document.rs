//! Camunda document references: unwrapping, reading the bytes (inline base64,
//! an external URL over wasi-http, or the runtime's document store), and
//! checking them before any of them reach AWS. A document that Textract cannot
//! read, or that is over AWS's limits, is refused here with a message that says why.

use crate::aws::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::platform::documents::{sha256_hex, StoreError};
use crate::platform::http::HttpRequest;
use crate::platform::{printable, Context};
use base64::Engine as _;
use serde_json::Value;

/// AWS's limit for real-time analysis, and for images in asynchronous jobs.
pub const SYNC_MAX_BYTES: usize = 10 * 1024 * 1024;
/// AWS's limit for PDF and TIFF documents in asynchronous jobs.
pub const ASYNC_DOCUMENT_MAX_BYTES: usize = 500 * 1024 * 1024;

const DISCRIMINATOR: &str = "camunda.document.type";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Jpeg,
    Pdf,
    Tiff,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Png => "PNG",
            Format::Jpeg => "JPEG",
            Format::Pdf => "PDF",
            Format::Tiff => "TIFF",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Pdf => "application/pdf",
            Format::Tiff => "image/tiff",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpg",
            Format::Pdf => "pdf",
            Format::Tiff => "tiff",
        }
    }

    /// Recognises a document by its first bytes; the declared content type is not trusted.
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Format::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Format::Jpeg)
        } else if bytes.starts_with(b"%PDF-") {
            Some(Format::Pdf)
        } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
            Some(Format::Tiff)
        } else {
            None
        }
    }
}

/// A document's bytes with what is known about them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// `metadata.fileName`, `name`, or the last segment of an external URL.
    pub file_name: Option<String>,
    pub bytes: Vec<u8>,
    pub format: Format,
}

impl Document {
    /// A file name safe to use as the last segment of an S3 key: path
    /// separators and control characters replaced, everything else kept.
    pub fn key_name(&self) -> String {
        let cleaned: String = self
            .file_name
            .as_deref()
            .unwrap_or("")
            .chars()
            .map(|c| {
                if c == '/' || c == '\\' || c.is_control() {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        let cleaned = cleaned.trim().trim_matches('.').to_string();
        if cleaned.is_empty() {
            format!("document.{}", self.format.extension())
        } else {
            cleaned.chars().take(200).collect()
        }
    }

    fn label(&self) -> String {
        self.file_name
            .as_deref()
            .map(|n| format!("'{n}'"))
            .unwrap_or_else(|| "the document".into())
    }
}

/// Resolves a Camunda document reference to checked bytes.
pub fn load(ctx: &mut Context<'_>, reference: &Value) -> Result<Document> {
    let reference = single(reference)?;
    let obj = reference.as_object().ok_or_else(|| {
        invalid(
            "DocumentInvalid",
            "input.document must be a Camunda document reference (a JSON object)".into(),
        )
    })?;
    let text = |key: &str| {
        obj.get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let metadata_text = |key: &str| {
        obj.get("metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let kind = text(DISCRIMINATOR).unwrap_or("").to_ascii_lowercase();
    let (file_name, bytes) = match kind.as_str() {
        "inline" => {
            let content = text("content")
                .ok_or_else(|| invalid("DocumentInvalid", "The inline document has no base64 'content'".into()))?;
            (text("name").map(str::to_string), decode_base64(content)?)
        }
        "external" => {
            let url =
                text("url").ok_or_else(|| invalid("DocumentInvalid", "The external document has no 'url'".into()))?;
            let name = text("name").map(str::to_string).or_else(|| url_file_name(url));
            (name, fetch(ctx, url)?)
        }
        "camunda" => {
            let id = text("documentId")
                .ok_or_else(|| invalid("DocumentInvalid", "The Camunda document has no 'documentId'".into()))?;
            let bytes = read_store(ctx, text("storeId"), id, text("contentHash"))?;
            if let Some(expected) = text("contentHash") {
                check_hash(id, expected, &bytes)?;
            }
            (metadata_text("fileName"), bytes)
        }
        "" => {
            return Err(invalid(
                "DocumentInvalid",
                format!("input.document must carry a '{DISCRIMINATOR}' of inline, external or camunda"),
            ))
        }
        other => {
            return Err(invalid(
                "DocumentInvalid",
                format!("Unknown document type '{other}': expected inline, external or camunda"),
            ))
        }
    };
    check(file_name, bytes)
}

fn check(file_name: Option<String>, bytes: Vec<u8>) -> Result<Document> {
    let label = file_name
        .as_deref()
        .map(|n| format!("'{n}'"))
        .unwrap_or_else(|| "the document".into());
    if bytes.is_empty() {
        return Err(invalid("DocumentEmpty", format!("The document {label} is empty")));
    }
    let format = Format::sniff(&bytes).ok_or_else(|| {
        let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        invalid(
            "UnsupportedDocumentType",
            format!(
                "The document {label} is not a PNG, JPEG, PDF or TIFF file (it starts with bytes {}); Textract cannot analyse it",
                head.join(" ")
            ),
        )
    })?;
    Ok(Document {
        file_name,
        bytes,
        format,
    })
}

/// Real-time analysis takes a single document up to 10 MB.
pub fn check_sync_size(doc: &Document) -> Result<()> {
    if doc.bytes.len() > SYNC_MAX_BYTES {
        return Err(too_large(
            doc,
            SYNC_MAX_BYTES,
            "real-time (SYNC) analysis takes at most 10 MB; use POLLING for larger PDF or TIFF documents",
        ));
    }
    Ok(())
}

/// Asynchronous jobs take PDF and TIFF up to 500 MB, images up to 10 MB.
pub fn check_async_size(doc: &Document) -> Result<()> {
    let (limit, why) = match doc.format {
        Format::Pdf | Format::Tiff => (
            ASYNC_DOCUMENT_MAX_BYTES,
            "asynchronous analysis takes PDF and TIFF documents up to 500 MB",
        ),
        Format::Png | Format::Jpeg => (
            SYNC_MAX_BYTES,
            "asynchronous analysis takes PNG and JPEG images up to 10 MB",
        ),
    };
    if doc.bytes.len() > limit {
        return Err(too_large(doc, limit, why));
    }
    Ok(())
}

fn too_large(doc: &Document, limit: usize, why: &str) -> Error {
    invalid(
        "DocumentTooLarge",
        format!(
            "The {} document {} is {} bytes, over the limit of {limit} bytes: {why}",
            doc.format.name(),
            doc.label(),
            doc.bytes.len()
        ),
    )
}

fn single(reference: &Value) -> Result<&Value> {
    match reference {
        Value::Array(items) if items.len() == 1 => Ok(&items[0]),
        Value::Array(items) => Err(invalid(
            "TooManyDocuments",
            format!(
                "Exactly one document can be analysed per execution, but {} were given",
                items.len()
            ),
        )),
        other => Ok(other),
    }
}

/// Standard or URL-safe base64, with or without padding, ignoring line breaks.
fn decode_base64(content: &str) -> Result<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let compact: String = content.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        if let Ok(bytes) = engine.decode(&compact) {
            return Ok(bytes);
        }
    }
    Err(invalid(
        "DocumentInvalid",
        "The inline document's 'content' is not valid base64".into(),
    ))
}

/// GETs an external document, only from a host the operator allowed by name
/// (`--allow-host`): what the input implies (AWS, the endpoint override) never
/// admits a download. The runtime's egress policy checks the address again.
fn fetch(ctx: &mut Context<'_>, url: &str) -> Result<Vec<u8>> {
    let lower = url.to_ascii_lowercase();
    let parsed = Endpoint::parse("url", url);
    let target = match parsed {
        Ok(e) if lower.starts_with("https://") || lower.starts_with("http://") => e,
        _ => {
            return Err(invalid(
                "DocumentInvalid",
                format!("The external document URL must be an http(s) URL: {}", printable(url)),
            ))
        }
    };
    if !ctx.platform.operator_allows(target.host(), target.port()) {
        return Err(invalid(
            "ExternalDocumentNotAllowed",
            format!(
                "The external document's host '{}' is not one the operator allows (--allow-host); \
                 documents are downloaded only from those hosts",
                target.authority
            ),
        ));
    }
    let request = HttpRequest {
        method: "GET",
        url: url.to_string(),
        headers: Vec::new(),
        body: Vec::new(),
        timeout: None,
    };
    let response = crate::aws::retry::run(
        ctx,
        crate::aws::retry::RetryPolicy::default(),
        "document download",
        |ctx| {
            let response = ctx.http.send(&request)?;
            if matches!(response.status, 500 | 502 | 503 | 504) {
                return Err(Error::Transport {
                    code: format!("Http{}", response.status),
                    message: format!(
                        "Downloading the document from {url} failed with HTTP {}",
                        response.status
                    ),
                });
            }
            Ok(response)
        },
    )?;
    if !response.is_success() {
        return Err(invalid(
            "DocumentFetchFailed",
            format!(
                "Downloading the document from {url} failed with HTTP {}",
                response.status
            ),
        ));
    }
    Ok(response.body)
}

fn read_store(ctx: &mut Context<'_>, store_id: Option<&str>, id: &str, hash: Option<&str>) -> Result<Vec<u8>> {
    ctx.documents.read(store_id, id, hash).map_err(|e| match e {
        StoreError::NotFound => invalid(
            "DocumentNotFound",
            format!("The document store has no document '{id}' (it may have expired)"),
        ),
        StoreError::Denied(why) => invalid(
            "DocumentAccessDenied",
            format!("The runtime refused access to document '{id}': {why}"),
        ),
        StoreError::Unavailable(why) => Error::Transport {
            code: "DocumentStoreUnavailable".into(),
            message: format!("The document store could not read document '{id}': {why}"),
        },
    })
}

/// `contentHash` is the SHA-256 of the bytes, in hex (optionally `sha256:`-prefixed).
fn check_hash(id: &str, expected: &str, bytes: &[u8]) -> Result<()> {
    let expected = expected
        .strip_prefix("sha256:")
        .unwrap_or(expected)
        .to_ascii_lowercase();
    let actual = sha256_hex(bytes);
    if expected != actual {
        return Err(invalid(
            "DocumentHashMismatch",
            format!("The bytes of document '{id}' do not match its contentHash (expected {expected}, got {actual})"),
        ));
    }
    Ok(())
}

fn url_file_name(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let after_host = path.split_once("://").map(|(_, r)| r).unwrap_or(path);
    let (_, path) = after_host.split_once('/')?;
    path.rsplit('/').next().filter(|s| !s.is_empty()).map(str::to_string)
}

fn invalid(code: &'static str, message: String) -> Error {
    Error::InvalidInput { code, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::fake::{FakeHost, FakeStore};
    use crate::platform::http::fake::FakeHttp;
    use crate::platform::http::HttpResponse;
    use serde_json::json;

    const PNG_1PX: &str =
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

    fn with_ctx<T>(
        http: Vec<Result<HttpResponse>>,
        store: FakeStore,
        f: impl FnOnce(&mut Context<'_>) -> T,
    ) -> (T, FakeHttp) {
        let mut host = FakeHost {
            store,
            ..FakeHost::answering(http)
        };
        host.platform.operator_allowed = vec!["docs.example.com:443".into()];
        (host.run(f), host.http)
    }

    fn load_only(reference: Value) -> Result<Document> {
        with_ctx(vec![], FakeStore::default(), |ctx| load(ctx, &reference)).0
    }

    #[test]
    fn inline_png_is_accepted() {
        let d = load_only(json!([{"camunda.document.type":"inline","content":PNG_1PX,"name":"a.png"}])).unwrap();
        assert_eq!(d.format, Format::Png);
        assert_eq!(d.file_name.as_deref(), Some("a.png"));
    }

    #[test]
    fn non_images_and_bad_shapes_are_refused() {
        let text = base64::engine::general_purpose::STANDARD.encode("hello, world");
        let e = load_only(json!({"camunda.document.type":"inline","content":text,"name":"notes.txt"})).unwrap_err();
        assert_eq!(e.code(), "UnsupportedDocumentType");
        assert!(e.message().contains("'notes.txt' is not a PNG, JPEG, PDF or TIFF"));
        assert_eq!(load_only(json!([{}, {}])).unwrap_err().code(), "TooManyDocuments");
        assert_eq!(
            load_only(json!({"camunda.document.type":"inline","content":"@@"}))
                .unwrap_err()
                .code(),
            "DocumentInvalid"
        );
    }

    #[test]
    fn camunda_documents_come_from_the_store_and_match_their_hash() {
        let pdf = b"%PDF-1.7 test".to_vec();
        let mut store = FakeStore::default();
        store.documents.insert("doc-1".into(), pdf.clone());
        let good = json!({"camunda.document.type":"camunda","storeId":"in-memory","documentId":"doc-1",
                          "contentHash": sha256_hex(&pdf), "metadata":{"fileName":"scan 1.pdf","contentType":"application/pdf"}});
        let (doc, _) = with_ctx(vec![], store.clone(), |ctx| load(ctx, &good));
        let doc = doc.unwrap();
        assert_eq!(
            (doc.format, doc.file_name.as_deref()),
            (Format::Pdf, Some("scan 1.pdf"))
        );
        let mut bad = good.clone();
        bad["contentHash"] = json!("0".repeat(64));
        let (e, _) = with_ctx(vec![], store.clone(), |ctx| load(ctx, &bad));
        assert_eq!(e.unwrap_err().code(), "DocumentHashMismatch");
        let missing = json!({"camunda.document.type":"camunda","documentId":"nope"});
        let (e, _) = with_ctx(vec![], store, |ctx| load(ctx, &missing));
        assert_eq!(e.unwrap_err().code(), "DocumentNotFound");
    }

    #[test]
    fn external_documents_are_fetched() {
        let png = base64::engine::general_purpose::STANDARD.decode(PNG_1PX).unwrap();
        let ok = Ok(HttpResponse {
            status: 200,
            headers: vec![],
            body: png,
        });
        let reference = json!({"camunda.document.type":"external","url":"https://docs.example.com/in/scan.png?sig=1"});
        let (doc, http) = with_ctx(vec![ok], FakeStore::default(), |ctx| load(ctx, &reference));
        let doc = doc.unwrap();
        assert_eq!(doc.file_name.as_deref(), Some("scan.png"));
        assert_eq!(http.requests[0].method, "GET");
        assert!(
            http.requests[0].headers.is_empty(),
            "no credentials go to a document URL"
        );
        let missing = Ok(HttpResponse {
            status: 404,
            headers: vec![],
            body: vec![],
        });
        let (e, _) = with_ctx(vec![missing], FakeStore::default(), |ctx| load(ctx, &reference));
        assert_eq!(e.unwrap_err().code(), "DocumentFetchFailed");
    }

    #[test]
    fn external_documents_come_only_from_hosts_the_operator_allows() {
        for url in [
            "https://textract.us-east-1.amazonaws.com/doc.png",
            "http://docs.example.com/doc.png",
            "https://docs.example.com:8443/doc.png",
            "http://169.254.169.254/latest/meta-data/",
        ] {
            let reference = json!({"camunda.document.type":"external","url":url});
            let (e, http) = with_ctx(vec![], FakeStore::default(), |ctx| load(ctx, &reference));
            assert_eq!(e.unwrap_err().code(), "ExternalDocumentNotAllowed", "{url}");
            assert!(http.requests.is_empty(), "{url}: nothing is sent");
        }
        let reference = json!({"camunda.document.type":"external","url":"https://[::1/x"});
        let (e, _) = with_ctx(vec![], FakeStore::default(), |ctx| load(ctx, &reference));
        assert_eq!(e.unwrap_err().code(), "DocumentInvalid");
    }

    #[test]
    fn limits_name_the_limit() {
        let doc = |format, len| Document {
            file_name: Some("big".into()),
            bytes: vec![0; len],
            format,
        };
        assert!(check_sync_size(&doc(Format::Pdf, SYNC_MAX_BYTES)).is_ok());
        let e = check_sync_size(&doc(Format::Pdf, SYNC_MAX_BYTES + 1)).unwrap_err();
        assert!(
            e.message()
                .contains("over the limit of 10485760 bytes: real-time (SYNC) analysis takes at most 10 MB"),
            "{}",
            e.message()
        );
        assert!(check_async_size(&doc(Format::Pdf, SYNC_MAX_BYTES + 1)).is_ok());
        let e = check_async_size(&doc(Format::Png, SYNC_MAX_BYTES + 1)).unwrap_err();
        assert!(
            e.message().contains("PNG and JPEG images up to 10 MB"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn key_names_keep_the_file_name() {
        let doc = |name: Option<&str>| Document {
            file_name: name.map(str::to_string),
            bytes: vec![],
            format: Format::Pdf,
        };
        assert_eq!(doc(Some("scan ü+%.pdf")).key_name(), "scan ü+%.pdf");
        assert_eq!(doc(Some("../etc/passwd")).key_name(), "_etc_passwd");
        assert_eq!(doc(None).key_name(), "document.pdf");
    }

    #[test]
    fn formats_are_sniffed() {
        assert_eq!(Format::sniff(b"%PDF-1.7"), Some(Format::Pdf));
        assert_eq!(Format::sniff(b"II*\0rest"), Some(Format::Tiff));
        assert_eq!(Format::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(Format::Jpeg));
        assert_eq!(Format::sniff(b"GIF89a"), None);
    }
}
