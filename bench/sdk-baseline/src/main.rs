//! `sdk-baseline ENDPOINT ITERATIONS`: AnalyzeDocument with aws-sdk-textract
//! against ENDPOINT (a local server replaying a recorded response), the result
//! turned into the connector's Camunda shape, ITERATIONS times after a warm-up.
//! Prints one JSON line: per-call wall times (µs) and the process's CPU time.

use aws_credential_types::Credentials;
use aws_sdk_textract::types::{Block, Document, FeatureType, S3Object};
use serde_json::{json, Value};
use std::time::Instant;

fn block(b: &Block) -> Value {
    let geometry = b.geometry().map(|g| {
        json!({
            "boundingBox": g.bounding_box().map(|bb| json!({"width": bb.width(), "height": bb.height(), "left": bb.left(), "top": bb.top()})),
            "polygon": g.polygon.as_ref().map(|p| p.iter().map(|pt| json!({"x": pt.x(), "y": pt.y()})).collect::<Vec<_>>()),
        })
    });
    json!({
        "blockType": b.block_type().map(|t| t.as_str()),
        "confidence": b.confidence(),
        "text": b.text(),
        "textType": b.text_type().map(|t| t.as_str()),
        "rowIndex": b.row_index(),
        "columnIndex": b.column_index(),
        "rowSpan": b.row_span(),
        "columnSpan": b.column_span(),
        "geometry": geometry,
        "id": b.id(),
        "relationships": b.relationships.as_ref().map(|rs| rs.iter().map(|r| json!({"type": r.r#type().map(|t| t.as_str()), "ids": r.ids.clone()})).collect::<Vec<_>>()),
        "entityTypes": b.entity_types.as_ref().map(|e| e.iter().map(|t| t.as_str().to_string()).collect::<Vec<_>>()),
        "selectionStatus": b.selection_status().map(|s| s.as_str()),
        "page": b.page(),
        "query": b.query().map(|q| json!({"text": q.text(), "alias": q.alias(), "pages": q.pages.clone()})),
    })
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = args.get(1).cloned().unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let iterations: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(100);
    let http = aws_smithy_http_client::Builder::new().build_http();
    let config = aws_sdk_textract::Config::builder()
        .behavior_version(aws_sdk_textract::config::BehaviorVersion::latest())
        .region(aws_sdk_textract::config::Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, None, "bench"))
        .http_client(http)
        .build();
    let client = aws_sdk_textract::Client::from_conf(config);
    let call = || async {
        let out = client
            .analyze_document()
            .document(Document::builder().s3_object(S3Object::builder().bucket("textract-demo-docs").name("paystubs/2025-12.png").build()).build())
            .feature_types(FeatureType::Tables)
            .feature_types(FeatureType::Forms)
            .send()
            .await
            .expect("AnalyzeDocument");
        let result = json!({
            "documentMetadata": out.document_metadata().map(|m| json!({"pages": m.pages()})),
            "blocks": out.blocks.as_ref().map(|bs| bs.iter().map(block).collect::<Vec<_>>()),
            "analyzeDocumentModelVersion": out.analyze_document_model_version(),
        });
        serde_json::to_string(&result).expect("json").len()
    };
    for _ in 0..iterations.min(20) {
        call().await;
    }
    let cpu_start = cpu_seconds();
    let wall_start = Instant::now();
    let mut times = Vec::with_capacity(iterations);
    let mut bytes = 0;
    for _ in 0..iterations {
        let t = Instant::now();
        bytes = call().await;
        times.push(t.elapsed().as_micros() as u64);
    }
    let wall = wall_start.elapsed().as_secs_f64();
    println!("{}", json!({"wall_us": times, "wall_s": wall, "cpu_s": cpu_seconds() - cpu_start, "output_bytes": bytes}));
}
