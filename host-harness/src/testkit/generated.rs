//! Large recorded responses, generated instead of committed: a POLLING job of
//! many result pages cut from a real Textract response (for the memory test
//! and the benchmark).

use crate::transport::cassette::Cassette;
use serde_json::{json, Value};

/// A finished job of `pages` result pages of `per_page` blocks each, cut from
/// `response` (a real AnalyzeDocument body), and the POLLING input that reads it.
/// The cassette asserts no signatures: it measures, it does not prove.
pub fn big_polling_job(response: &str, pages: usize, per_page: usize) -> Result<(Cassette, String), serde_json::Error> {
    let fixture: Value = serde_json::from_str(response)?;
    let source: Vec<Value> = fixture["Blocks"].as_array().cloned().unwrap_or_default();
    let headers = json!({"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "req-big"});
    let mut interactions = vec![json!({
        "request": {"method": "POST", "url": "https://textract.us-east-1.amazonaws.com/",
                    "headers": {"x-amz-target": "Textract.StartDocumentAnalysis"},
                    "body": {"json": {"DocumentLocation": {"S3Object": {"Bucket": "bucket", "Name": "big.pdf"}},
                                      "FeatureTypes": ["FORMS"], "ClientRequestToken": "tc-000102030405060708090a0b0c0d0e0f"}}},
        "response": {"status": 200, "headers": headers, "body": {"json": {"JobId": "big-job"}}}
    })];
    for p in 0..pages {
        let blocks: Vec<Value> = (0..per_page)
            .filter_map(|i| {
                source
                    .get((p * per_page + i) % source.len().max(1))
                    .cloned()
                    .map(|mut b| {
                        b["Id"] = json!(format!("block-{p}-{i}"));
                        b["Page"] = json!(p + 1);
                        b
                    })
            })
            .collect();
        let mut body = json!({"DocumentMetadata": {"Pages": pages}, "JobStatus": "SUCCEEDED", "Blocks": blocks,
                              "AnalyzeDocumentModelVersion": "1.0"});
        if p + 1 < pages {
            body["NextToken"] = json!(format!("token-{}", p + 1));
        }
        let mut request_body = json!({"JobId": "big-job", "MaxResults": 1000});
        if p > 0 {
            request_body["NextToken"] = json!(format!("token-{p}"));
        }
        // A text body is served as it is, not re-serialised on every request.
        interactions.push(json!({
            "request": {"method": "POST", "url": "https://textract.us-east-1.amazonaws.com/",
                        "headers": {"x-amz-target": "Textract.GetDocumentAnalysis"}, "body": {"json": request_body}},
            "response": {"status": 200, "headers": headers, "body": {"text": body.to_string()}}
        }));
    }
    let input = json!({
        "authentication": {"accessKey": "AKIDEXAMPLE", "secretKey": "secret"},
        "configuration": {"region": "us-east-1"},
        "input": {"executionType": "POLLING", "documentS3Bucket": "bucket", "documentName": "big.pdf", "analyzeForms": true}
    });
    Ok((
        serde_json::from_value(json!({"interactions": interactions}))?,
        input.to_string(),
    ))
}
