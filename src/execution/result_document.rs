//! `documentReturnFormat` DOCUMENT (templates v7+: "Document reference uploads it
//! to the document store and returns the reference"): the finished result goes
//! to the runtime's document store as an `application/json` document, and the
//! task returns the store's Camunda document reference in its place.

use crate::error::{Error, Result};
use crate::platform::documents::CreateError;
use crate::platform::Context;
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

/// The content type of a stored result.
pub const CONTENT_TYPE: &str = "application/json";

/// Stores `result` and returns the reference the store answers, as it answered it.
pub fn store(ctx: &mut Context<'_>, result: String) -> Result<String> {
    let file_name = file_name(ctx.platform.now());
    let bytes = result.len();
    let reference = ctx
        .documents
        .create(result.as_bytes(), CONTENT_TYPE, &file_name)
        .map_err(|e| refused(e, bytes, &file_name))?;
    drop(result);
    match serde_json::from_str::<Value>(&reference) {
        Ok(Value::Object(_)) => {}
        _ => {
            return Err(Error::Internal(format!(
                "the document store stored the result as '{file_name}' but answered a reference that is not \
                 a JSON object: {:.200}",
                crate::platform::printable(&reference)
            )))
        }
    }
    ctx.platform.progress(&format!(
        "textract: stored the result ({bytes} bytes) in the document store as {file_name}"
    ));
    Ok(reference)
}

fn refused(e: CreateError, bytes: usize, file_name: &str) -> Error {
    match e {
        // The runtime lacks the capability: the same input fails again here, so it
        // is the input's choice that cannot work in this runtime.
        CreateError::Unsupported(why) => Error::InvalidInput {
            code: "DocumentCreateUnsupported",
            message: format!(
                "documentReturnFormat DOCUMENT stores the result in the runtime's document store, but the \
                 runtime cannot: {}. Choose the JSON return format, or run the task where a document store is \
                 available",
                why.trim_end_matches('.')
            ),
        },
        CreateError::Denied(why) => Error::InvalidInput {
            code: "DocumentCreateDenied",
            message: format!(
                "The document store refused to store the result ({bytes} bytes, {file_name}): {}",
                why.trim_end_matches('.')
            ),
        },
        CreateError::Unavailable(why) => Error::Transport {
            code: "DocumentStoreUnavailable".into(),
            message: format!(
                "The document store could not store the result ({bytes} bytes, {file_name}): {}",
                why.trim_end_matches('.')
            ),
        },
    }
}

/// `textract-result-20260115T093000Z.json`: the time the result was stored, in UTC.
pub fn file_name(now: SystemTime) -> String {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "textract-result-{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z.json",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    //! DOCUMENT end to end over the fake host: what is stored, what is returned,
    //! and what a store that cannot create tells the user.
    use super::*;
    use crate::error::ErrorKind;
    use crate::execute;
    use crate::platform::documents::{DocumentStore, StoreError};
    use crate::platform::fake::FakeHost;
    use crate::platform::http::HttpResponse;
    use crate::platform::Context;
    use serde_json::json;
    use std::time::Duration;

    fn input(execution: &str, format: Option<&str>) -> String {
        let mut input = json!({
            "authentication": {"accessKey": "AKIDEXAMPLE", "secretKey": "secret"},
            "configuration": {"region": "us-east-1"},
            "input": {"executionType": execution, "documentS3Bucket": "docs", "documentName": "a.png",
                      "analyzeTables": true, "jobId": "job-1"},
        });
        if let Some(choice) = format {
            input["documentReturnFormat"] = json!({"choice": choice});
        }
        input.to_string()
    }

    fn ok(body: Value) -> Result<HttpResponse> {
        Ok(HttpResponse {
            status: 200,
            headers: vec![("x-amzn-requestid".into(), "req-1".into())],
            body: body.to_string().into_bytes(),
        })
    }

    fn analyzed() -> Value {
        json!({"DocumentMetadata": {"Pages": 1}, "Blocks": [{"BlockType": "PAGE", "Id": "p"},
               {"BlockType": "LINE", "Id": "l", "Text": "Net pay 10.00", "Confidence": 99.0}],
               "AnalyzeDocumentModelVersion": "1.0"})
    }

    /// The answers of one execution type, and its result as JSON.
    fn answers(execution: &str) -> Vec<Result<HttpResponse>> {
        let page = json!({"JobStatus": "SUCCEEDED", "DocumentMetadata": {"Pages": 1},
                          "Blocks": [{"BlockType": "PAGE", "Id": "p"}]});
        match execution {
            "SYNC" => vec![ok(analyzed())],
            "POLLING" => vec![ok(json!({"JobId": "job-1"})), ok(json!({"JobStatus": "IN_PROGRESS"})), ok(page)],
            "FETCH" => vec![ok(page)],
            _ => vec![ok(json!({"JobId": "job-1"}))],
        }
    }

    #[test]
    fn document_stores_the_json_result_and_returns_its_reference() {
        for execution in ["SYNC", "POLLING", "FETCH", "ASYNC"] {
            let mut plain = FakeHost::answering(answers(execution));
            let json_result = plain.run(|ctx| execute(ctx, &input(execution, Some("JSON")))).unwrap();
            let mut absent = FakeHost::answering(answers(execution));
            assert_eq!(
                absent.run(|ctx| execute(ctx, &input(execution, None))).unwrap(),
                json_result,
                "{execution}: JSON is the default"
            );
            assert!(plain.store.created.is_empty());

            let mut host = FakeHost::answering(answers(execution));
            let out = host.run(|ctx| execute(ctx, &input(execution, Some("DOCUMENT")))).unwrap();
            let reference: Value = serde_json::from_str(&out).unwrap();
            assert_eq!(reference["camunda.document.type"], "camunda", "{execution}: {out}");
            let id = reference["documentId"].as_str().unwrap();
            assert_eq!(
                host.store.documents[id],
                json_result.as_bytes(),
                "{execution}: the stored document is the JSON result, byte for byte"
            );
            assert_eq!(
                reference["contentHash"],
                crate::platform::documents::sha256_hex(json_result.as_bytes())
            );
            let elapsed = host.platform.elapsed.as_secs();
            assert_eq!(
                host.store.created[id],
                (
                    "application/json".to_string(),
                    file_name(host.platform.start + Duration::from_secs(elapsed))
                )
            );
            assert_eq!(host.http.requests.len(), plain.http.requests.len(), "{execution}");
        }
    }

    #[test]
    fn the_file_name_is_the_time_of_the_result() {
        let mut host = FakeHost::answering(answers("SYNC"));
        host.run(|ctx| execute(ctx, &input("SYNC", Some("document")))).unwrap();
        assert_eq!(
            host.store.created["fake-1"].1,
            "textract-result-20260115T093000Z.json"
        );
        assert_eq!(
            host.platform.lines.last().unwrap(),
            &format!(
                "textract: stored the result ({} bytes) in the document store as textract-result-20260115T093000Z.json",
                host.store.documents["fake-1"].len()
            )
        );
        for (secs, name) in [
            (0, "textract-result-19700101T000000Z.json"),
            (951_782_400, "textract-result-20000229T000000Z.json"),
            (4_102_444_799, "textract-result-20991231T235959Z.json"),
            (4_107_542_399, "textract-result-21000228T235959Z.json"),
        ] {
            assert_eq!(file_name(UNIX_EPOCH + Duration::from_secs(secs)), name);
        }
    }

    #[test]
    fn a_store_that_cannot_create_is_a_plain_error_never_internal() {
        for (refusal, kind, code, retryable, says) in [
            (
                CreateError::Unsupported("this runtime has no document store (see --documents)".into()),
                ErrorKind::InvalidInput,
                "DocumentCreateUnsupported",
                false,
                "but the runtime cannot: this runtime has no document store (see --documents). Choose the JSON \
                 return format, or run the task where a document store is available",
            ),
            (
                CreateError::Denied("the document is larger than 10 bytes".into()),
                ErrorKind::InvalidInput,
                "DocumentCreateDenied",
                false,
                "The document store refused to store the result (",
            ),
            (
                CreateError::Unavailable("HTTP 503".into()),
                ErrorKind::Upstream,
                "DocumentStoreUnavailable",
                true,
                "The document store could not store the result (",
            ),
        ] {
            let mut host = FakeHost::answering(answers("SYNC"));
            host.store.refuse_create = Some(refusal);
            let e = host.run(|ctx| execute(ctx, &input("SYNC", Some("DOCUMENT")))).unwrap_err();
            assert_eq!((e.kind(), e.code().as_str(), e.retryable()), (kind, code, retryable));
            assert!(e.message().contains(says), "{}", e.message());
        }
    }

    /// A store that only reads: the trait's own `create`.
    struct ReadOnly;

    impl DocumentStore for ReadOnly {
        fn read(&mut self, _: Option<&str>, _: &str, _: Option<&str>) -> std::result::Result<Vec<u8>, StoreError> {
            Err(StoreError::NotFound)
        }
    }

    /// A store that answers something other than a reference.
    struct Garbled;

    impl DocumentStore for Garbled {
        fn read(&mut self, _: Option<&str>, _: &str, _: Option<&str>) -> std::result::Result<Vec<u8>, StoreError> {
            Err(StoreError::NotFound)
        }
        fn create(&mut self, _: &[u8], _: &str, _: &str) -> std::result::Result<String, CreateError> {
            Ok("\"doc-1\"".into())
        }
    }

    fn with_store(store: &mut dyn DocumentStore) -> Result<String> {
        let mut host = FakeHost::answering(answers("SYNC"));
        let mut ctx = Context {
            http: &mut host.http,
            platform: &mut host.platform,
            documents: store,
            mode: host.mode,
        };
        execute(&mut ctx, &input("SYNC", Some("DOCUMENT")))
    }

    #[test]
    fn a_read_only_store_cannot_create_and_a_garbled_answer_is_the_runtimes_defect() {
        let e = with_store(&mut ReadOnly).unwrap_err();
        assert_eq!(e.code(), "DocumentCreateUnsupported");
        assert!(e.message().contains("the runtime cannot: this document store only reads documents. Choose"), "{}", e.message());
        let e = with_store(&mut Garbled).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert!(e.message().contains("not a JSON object"), "{}", e.message());
    }

    #[test]
    fn nothing_is_stored_when_the_task_fails() {
        let mut host = FakeHost::answering(vec![Ok(HttpResponse {
            status: 400,
            headers: vec![],
            body: br#"{"__type":"InvalidS3ObjectException","Message":"no"}"#.to_vec(),
        })]);
        let e = host.run(|ctx| execute(ctx, &input("SYNC", Some("DOCUMENT")))).unwrap_err();
        assert_eq!(e.code(), "InvalidS3ObjectException");
        assert!(host.store.created.is_empty());
    }
}
