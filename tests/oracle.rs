//! botocore as an oracle: every request of `tests/oracle/corpus.json` (requests
//! the connector really makes: Textract operations with and without a session
//! token, S3 Put/Head/Get/Delete with odd keys, both addressing styles, several
//! regions) is built and signed by the connector's own code and must equal, byte
//! for byte, what botocore computed (`tests/oracle/expected.json`): the URL, the
//! canonical request, the string to sign and the authorization header.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::trace::{string_to_sign, Capture};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};
use textract_connector::aws::credentials::Credentials;
use textract_connector::aws::endpoint::Endpoint;
use textract_connector::aws::retry::RetryPolicy;
use textract_connector::aws::s3::S3Client;
use textract_connector::aws::signing::{self, Profile, Scope};
use textract_connector::aws::textract;

const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// 2026-01-15T09:30:00Z, the time sign.py signs at.
const WHEN: u64 = 1_768_469_400;

fn load(name: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_corpus_request_signs_exactly_as_botocore_does() {
    let corpus = load("corpus.json");
    let expected = load("expected.json");
    assert_eq!(
        corpus.len(),
        expected.len(),
        "regenerate expected.json with tests/oracle/sign.py"
    );
    assert!(corpus.len() >= 30);
    let mut failures = Vec::new();
    for (entry, want) in corpus.iter().zip(&expected) {
        let name = entry["name"].as_str().unwrap();
        assert_eq!(want["name"], entry["name"]);
        let region = entry["region"].as_str().unwrap();
        let service = entry["service"].as_str().unwrap();
        let token = entry["sessionToken"].as_str();
        let credentials = Credentials::new(ACCESS_KEY, SECRET_KEY, token);
        let endpoint = entry["endpoint"]
            .as_str()
            .map(|e| Endpoint::parse("endpoint", e).unwrap());
        let body = want["bodyText"].as_str().unwrap().as_bytes().to_vec();

        // Built by the same code the component runs.
        let (mut request, profile) = if service == "textract" {
            let endpoint = endpoint.clone().unwrap_or_else(|| Endpoint::aws("textract", region));
            (
                textract::build_request(&endpoint, entry["operation"].as_str().unwrap(), body),
                Profile::Standard,
            )
        } else {
            let client = S3Client {
                credentials: &credentials,
                region,
                endpoint_override: endpoint.as_ref(),
                retry: RetryPolicy::default(),
            };
            let method: &'static str = match entry["method"].as_str().unwrap() {
                "PUT" => "PUT",
                "GET" => "GET",
                "HEAD" => "HEAD",
                "DELETE" => "DELETE",
                other => panic!("unexpected method {other}"),
            };
            let request = client.build_request(
                method,
                entry["bucket"].as_str().unwrap(),
                entry["key"].as_str().unwrap(),
                entry["query"].as_str(),
                entry["contentType"].as_str(),
                &body,
            );
            (request, Profile::S3)
        };
        let capture = Capture::default();
        let time = UNIX_EPOCH + Duration::from_secs(WHEN);
        tracing::subscriber::with_default(capture.clone(), || {
            signing::sign(
                &mut request,
                &credentials,
                Scope {
                    region,
                    service,
                    time,
                    profile,
                },
            )
        })
        .unwrap();

        let mut problems = Vec::new();
        if request.url != want["url"].as_str().unwrap() {
            problems.push(format!("url: botocore {}, ours {}", want["url"], request.url));
        }
        let canonical = capture.canonical_request(token).unwrap_or_default();
        if canonical != want["canonicalRequest"].as_str().unwrap() {
            problems.push(format!(
                "canonical request:\n--- botocore\n{}\n--- ours\n{canonical}",
                want["canonicalRequest"].as_str().unwrap()
            ));
        }
        let sts = string_to_sign(&canonical, "20260115T093000Z", region, service);
        if sts != want["stringToSign"].as_str().unwrap() {
            problems.push(format!(
                "string to sign: botocore {:?}, ours {sts:?}",
                want["stringToSign"]
            ));
        }
        for (header, value) in want["signed"].as_object().unwrap() {
            if request.header(header) != value.as_str() {
                problems.push(format!("{header}: botocore {value}, ours {:?}", request.header(header)));
            }
        }
        if problems.is_empty() {
            println!("ok   {name}");
        } else {
            failures.push(format!("{name}:\n  {}", problems.join("\n  ")));
        }
    }
    println!("{} oracle requests checked", corpus.len());
    assert!(
        failures.is_empty(),
        "{} request(s) differ from botocore:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
