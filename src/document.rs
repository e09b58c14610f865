//! Camunda document references: unwrapping, decoding and checking the bytes
//! before any of them reach AWS. A document whose bytes Textract cannot read is
//! refused here, offline, with a message that says why.

use crate::error::{Error, Result};
use base64::Engine as _;
use serde_json::Value;

/// AWS's limit for real-time analysis and for images in asynchronous jobs.
pub const SYNC_MAX_BYTES: usize = 10 * 1024 * 1024;

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
    pub name: Option<String>,
    pub bytes: Vec<u8>,
    pub format: Format,
}

/// Resolves a Camunda document reference to checked bytes.
pub fn load(reference: &Value) -> Result<Document> {
    let reference = single(reference)?;
    let obj = reference.as_object().ok_or_else(|| invalid("DocumentInvalid", "input.document must be a Camunda document reference (a JSON object)".into()))?;
    let kind = obj.get(DISCRIMINATOR).and_then(Value::as_str).unwrap_or("");
    let (name, bytes) = match kind.to_ascii_lowercase().as_str() {
        "inline" => {
            let content = obj.get("content").and_then(Value::as_str).ok_or_else(|| {
                invalid("DocumentInvalid", "The inline document has no base64 'content'".into())
            })?;
            let name = obj.get("name").and_then(Value::as_str).map(str::to_string);
            (name, decode_base64(content)?)
        }
        "camunda" | "external" => {
            return Err(invalid(
                "DocumentTypeNotSupported",
                format!("Documents of type '{kind}' are not supported by this connector version yet; use an inline document or an S3 location"),
            ))
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
    check(name, bytes)
}

fn check(name: Option<String>, bytes: Vec<u8>) -> Result<Document> {
    let label = name.as_deref().map(|n| format!("'{n}'")).unwrap_or_else(|| "the document".into());
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
    Ok(Document { name, bytes, format })
}

/// Real-time analysis takes a single document up to 10 MB.
pub fn check_sync_size(doc: &Document) -> Result<()> {
    if doc.bytes.len() > SYNC_MAX_BYTES {
        return Err(invalid(
            "DocumentTooLarge",
            format!(
                "The document is {} bytes; real-time (SYNC) analysis takes at most 10 MB ({SYNC_MAX_BYTES} bytes). Use POLLING for larger documents",
                doc.bytes.len()
            ),
        ));
    }
    Ok(())
}

fn single(reference: &Value) -> Result<&Value> {
    match reference {
        Value::Array(items) if items.len() == 1 => Ok(&items[0]),
        Value::Array(items) => Err(invalid(
            "TooManyDocuments",
            format!("Exactly one document can be analysed per execution, but {} were given", items.len()),
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
    Err(invalid("DocumentInvalid", "The inline document's 'content' is not valid base64".into()))
}

fn invalid(code: &'static str, message: String) -> Error {
    Error::InvalidInput { code, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PNG_1PX: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

    #[test]
    fn inline_png_is_accepted() {
        let d = load(&json!([{"camunda.document.type":"inline","content":PNG_1PX,"name":"a.png"}])).unwrap();
        assert_eq!(d.format, Format::Png);
        assert_eq!(d.name.as_deref(), Some("a.png"));
    }

    #[test]
    fn non_images_and_bad_shapes_are_refused() {
        let text = base64::engine::general_purpose::STANDARD.encode("hello, world");
        let e = load(&json!({"camunda.document.type":"inline","content":text,"name":"notes.txt"})).unwrap_err();
        assert_eq!(e.code(), "UnsupportedDocumentType");
        assert!(e.message().contains("'notes.txt' is not a PNG, JPEG, PDF or TIFF"));
        assert_eq!(load(&json!([{}, {}])).unwrap_err().code(), "TooManyDocuments");
        assert_eq!(load(&json!({"camunda.document.type":"inline","content":"@@"})).unwrap_err().code(), "DocumentInvalid");
    }

    #[test]
    fn formats_are_sniffed() {
        assert_eq!(Format::sniff(b"%PDF-1.7"), Some(Format::Pdf));
        assert_eq!(Format::sniff(b"II*\0rest"), Some(Format::Tiff));
        assert_eq!(Format::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(Format::Jpeg));
        assert_eq!(Format::sniff(b"GIF89a"), None);
    }
}
