//! The summary against an independent parser: `tests/summary_oracle/expected.json`
//! holds what AWS's `amazon-textract-response-parser` (trp) finds in every real
//! Textract response of `tests/fixtures/textract` (written by `oracle.py`, checked
//! against a fresh trp by `.ci/run`). The connector's summary of the same
//! responses must agree field by field: page lines, key-value pairs with their
//! confidences, tables cell by cell, query answers and signatures.
//!
//! Where the two disagree on purpose, the case is listed in [`DELIBERATE`] with
//! both values and the reason (the README says why too); a listed case that
//! stops differing fails as well, so the list stays true.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use textract_connector::aws::textract::{self, AnalyzeDocumentResponse};
use textract_connector::camunda::output::JsonOut;
use textract_connector::camunda::summary::Collector;

/// A field where the connector differs from trp on purpose.
struct Deliberate {
    fixture: &'static str,
    /// A JSON pointer into the summary (and the oracle's record of it).
    at: &'static str,
    oracle: &'static str,
    ours: &'static str,
    why: &'static str,
}

/// Why each kind of deliberate difference exists (the README says the same).
const EMPTY_VALUE: &str = "an empty field: Textract sends a VALUE block without children, with its own \
    confidence; trp drops the value, the summary keeps `value: null` with Textract's confidence";
const CHECK_BOXES_IN_A_CELL: &str = "a cell holding check boxes: trp writes \", \" after each selection \
    status, the summary separates every token (word or status) with one space, as in key-values";

const DELIBERATE: &[Deliberate] = &[
    Deliberate {
        fixture: "form1005-response.json",
        at: "/keyValues/22/valueConfidence",
        oracle: "null",
        ours: "100.0",
        why: EMPTY_VALUE,
    },
    Deliberate {
        fixture: "multi-page-forms-samples-2-page.json",
        at: "/keyValues/11/valueConfidence",
        oracle: "null",
        ours: "94.5",
        why: EMPTY_VALUE,
    },
    Deliberate {
        fixture: "request_for_verification_of_employment.json",
        at: "/keyValues/32/valueConfidence",
        oracle: "null",
        ours: "100.0",
        why: EMPTY_VALUE,
    },
    Deliberate {
        fixture: "multi-page-forms-samples-2-page.json",
        at: "/tables/0/rows/0/2",
        oracle: "SELECTED, NOT_SELECTED, Yes No",
        ours: "SELECTED NOT_SELECTED Yes No",
        why: CHECK_BOXES_IN_A_CELL,
    },
    Deliberate {
        fixture: "multi-page-forms-samples-2-page.json",
        at: "/tables/0/rows/1/2",
        oracle: "NOT_SELECTED, SELECTED, Yes No",
        ours: "NOT_SELECTED SELECTED Yes No",
        why: CHECK_BOXES_IN_A_CELL,
    },
    Deliberate {
        fixture: "multi-page-forms-samples-2-page.json",
        at: "/tables/0/rows/2/2",
        oracle: "SELECTED, NOT_SELECTED, Yes No",
        ours: "SELECTED NOT_SELECTED Yes No",
        why: CHECK_BOXES_IN_A_CELL,
    },
    Deliberate {
        fixture: "multi-page-forms-samples-2-page.json",
        at: "/tables/0/rows/3/2",
        oracle: "NOT_SELECTED, SELECTED, Yes No",
        ours: "NOT_SELECTED SELECTED Yes No",
        why: CHECK_BOXES_IN_A_CELL,
    },
    Deliberate {
        fixture: "multi-page-forms-samples-2-page.json",
        at: "/tables/0/rows/4/2",
        oracle: "SELECTED, NOT_SELECTED, Yes No",
        ours: "SELECTED NOT_SELECTED Yes No",
        why: CHECK_BOXES_IN_A_CELL,
    },
    Deliberate {
        fixture: "multi-page-forms-samples-2-page.json",
        at: "/tables/0/rows/5/2",
        oracle: "SELECTED, NOT_SELECTED, Yes No",
        ours: "SELECTED NOT_SELECTED Yes No",
        why: CHECK_BOXES_IN_A_CELL,
    },
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The connector's summary of one response, as JSON.
fn summary_of(body: &[u8]) -> Value {
    let parsed: AnalyzeDocumentResponse = textract::parse_body("AnalyzeDocument", body).unwrap();
    let mut out = JsonOut::with_capacity(body.len() / 4);
    out.raw("{");
    Collector::of(parsed.blocks.as_deref().unwrap_or_default()).write(&mut out);
    out.raw("}");
    let value: Value = serde_json::from_str(&out.buf).expect("the summary is JSON");
    value["summary"].clone()
}

/// Numbers compare as the 32-bit floats both sides read from the response.
fn f32_of(v: &Value) -> Option<f32> {
    v.as_f64().map(|f| f as f32)
}

struct Comparison<'a> {
    fixture: &'a str,
    differences: Vec<(String, String, String)>,
}

impl Comparison<'_> {
    fn differ(&mut self, at: String, oracle: &Value, ours: &Value) {
        let show = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        self.differences.push((at, show(oracle), show(ours)));
    }

    fn same(&mut self, at: String, oracle: &Value, ours: &Value) {
        let equal = match (oracle, ours) {
            (Value::Number(_), Value::Number(_)) => f32_of(oracle) == f32_of(ours),
            _ => oracle == ours,
        };
        if !equal {
            self.differ(at, oracle, ours);
        }
    }

    fn same_fields(&mut self, at: &str, oracle: &Value, ours: &Value, fields: &[&str]) {
        for field in fields {
            self.same(format!("{at}/{field}"), &oracle[field], &ours[field]);
        }
    }

    fn list<'v>(&mut self, at: &str, oracle: &'v Value, ours: &'v Value) -> Vec<(usize, &'v Value, &'v Value)> {
        let (o, u) = (oracle.as_array().unwrap(), ours.as_array().unwrap());
        if o.len() != u.len() {
            self.differ(format!("{at} (length)"), &o.len().into(), &u.len().into());
        }
        o.iter().zip(u).enumerate().map(|(i, (a, b))| (i, a, b)).collect()
    }
}

fn compare(fixture: &str, oracle: &Value, ours: &Value) -> Vec<(String, String, String)> {
    let mut c = Comparison {
        fixture,
        differences: Vec::new(),
    };
    for (i, o, u) in c.list("/pages", &oracle["pages"], &ours["pages"]) {
        c.same_fields(&format!("/pages/{i}"), o, u, &["page", "lines"]);
    }
    for (i, o, u) in c.list("/keyValues", &oracle["keyValues"], &ours["keyValues"]) {
        c.same_fields(
            &format!("/keyValues/{i}"),
            o,
            u,
            &["key", "value", "keyConfidence", "valueConfidence", "page"],
        );
    }
    for (i, o, u) in c.list("/tables", &oracle["tables"], &ours["tables"]) {
        let at = format!("/tables/{i}");
        c.same_fields(&at, o, u, &["page", "headerRows"]);
        for (r, orow, urow) in c.list(&format!("{at}/rows"), &o["rows"], &u["rows"]) {
            for (k, ocell, ucell) in c.list(&format!("{at}/rows/{r}"), orow, urow) {
                c.same(format!("{at}/rows/{r}/{k}"), ocell, ucell);
            }
        }
    }
    let (oq, uq) = (
        oracle["queries"].as_object().unwrap(),
        ours["queries"].as_object().unwrap(),
    );
    let keys = |m: &serde_json::Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
    let (mut ok, mut uk) = (keys(oq), keys(uq));
    ok.sort();
    uk.sort();
    if ok != uk {
        c.differ("/queries (keys)".into(), &ok.into(), &uk.into());
    }
    for (key, o) in oq {
        let Some(u) = uq.get(key) else { continue };
        let at = format!("/queries/{}", key.replace('~', "~0").replace('/', "~1"));
        c.same(format!("{at}/text"), &o["text"], &u["text"]);
        for (j, oa, ua) in c.list(&format!("{at}/answers"), &o["answers"], &u["answers"]) {
            c.same_fields(&format!("{at}/answers/{j}"), oa, ua, &["answer", "confidence", "page"]);
        }
        // The first answer is repeated at the top for a short FEEL path.
        let first = o["answers"].get(0);
        c.same(
            format!("{at}/answer"),
            first.map_or(&Value::Null, |a| &a["answer"]),
            &u["answer"],
        );
    }
    for (i, o, u) in c.list("/signatures", &oracle["signatures"], &ours["signatures"]) {
        let at = format!("/signatures/{i}");
        c.same_fields(&at, o, u, &["page", "confidence"]);
        c.same_fields(
            &format!("{at}/boundingBox"),
            &o["boundingBox"],
            &u["boundingBox"],
            &["width", "height", "left", "top"],
        );
    }
    let _ = c.fixture;
    c.differences
}

#[test]
fn the_summary_agrees_with_amazon_textract_response_parser() {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("tests/summary_oracle/expected.json")).unwrap())
            .unwrap();
    let responses = expected["responses"].as_object().unwrap();
    let folder = root().join("tests/fixtures/textract");
    let mut fixtures: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    fixtures.sort();

    let mut unexplained = Vec::new();
    let mut explained = BTreeMap::new();
    let mut compared = 0;
    for fixture in &fixtures {
        let body = std::fs::read(folder.join(fixture)).unwrap();
        let Some(oracle) = responses.get(fixture) else {
            let value: Value = serde_json::from_slice(&body).unwrap();
            assert!(
                value.get("Blocks").is_none(),
                "{fixture} has blocks but no oracle record: run tests/summary_oracle/oracle.py"
            );
            continue;
        };
        compared += 1;
        for (at, oracle_value, ours) in compare(fixture, oracle, &summary_of(&body)) {
            match DELIBERATE.iter().find(|d| d.fixture == fixture && d.at == at) {
                Some(d) => {
                    assert_eq!(
                        (oracle_value.as_str(), ours.as_str()),
                        (d.oracle, d.ours),
                        "{fixture} {at}: the deliberate difference changed ({})",
                        d.why
                    );
                    explained.insert((d.fixture, d.at), ());
                }
                None => unexplained.push(format!("{fixture} {at}: trp {oracle_value:?}, connector {ours:?}")),
            }
        }
    }
    assert_eq!(compared, responses.len(), "every oracle record has its fixture");
    assert!(
        unexplained.is_empty(),
        "{} difference(s) from trp:\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
    for d in DELIBERATE {
        assert!(
            explained.contains_key(&(d.fixture, d.at)),
            "{} {}: listed as a deliberate difference but the two agree now",
            d.fixture,
            d.at
        );
    }
}
