//! The official element template as the contract. Camunda users configure this
//! connector through `aws-textract-outbound-connector.json` of the npm package
//! `@camunda/connectors-element-templates` (pinned below); the variables a model
//! sends are what that template writes. For each of its versions, this builds
//! the variables the modeler writes for every combination of its dropdowns (and
//! of a saved credential, set or not), and runs each through the component in
//! replay. Every one must succeed, sending the requests the model asks for, or
//! fail before any request with an error that the template's own rules explain
//! (a field it hides, an optional field left empty, a choice it labels
//! "Hybrid/Self-Managed only").
//!
//! How the modeler writes variables (`zeebe:input` bindings), as modelled here:
//! - a nested object per dotted binding name (`input.documentS3Bucket`);
//! - a property whose `condition` is not met is absent, and so is its binding;
//!   a condition on a hidden property sees no value;
//! - dropdowns write their value; static FEEL booleans (`=true`) are booleans;
//!   a FEEL field (`feel: required`, a document) is the value its expression
//!   yields, a Camunda document reference; the one hidden FEEL expression of
//!   v7+ (the document composer) is evaluated as FEEL would;
//! - a saved credential (`Configuration`) is the object its configuration
//!   template's `property` bindings describe;
//! - an empty optional field is written as `null` (8.8's empty input mapping)
//!   or not at all (older modelers): both are run;
//! - fields that are not optional are filled with plausible values.
//!
//! The package is installed by `make tools` (`.ci/run` runs it). Without it
//! this test is reported as ignored and `make test` says it was skipped; with
//! it, `make test` runs it with `--ignored`. `TEXTRACT_ELEMENT_TEMPLATES` may
//! name another copy of the file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use textract_host::engine::documents::FolderStore;
use textract_host::engine::sandbox::{Grants, RuntimeMode};
use textract_host::engine::{ExecOptions, ExecutionClock, Harness};
use textract_host::transport::cassette::Cassette;
use textract_host::transport::egress::EgressPolicy;
use textract_host::transport::{Mode, Replayer};

const PACKAGE: &str = "@camunda/connectors-element-templates";
const PACKAGE_VERSION: &str = "1.0.29";
const TEMPLATE_FILE: &str = "src/element-templates/aws-textract-outbound-connector.json";
const TASK_TYPE: &str = "io.camunda:aws-textract:1";

/// The one FEEL expression of a hidden field (v7, v8): it composes `input.document`
/// from the document source dropdown. Evaluated by [`compose_document`].
const DOCUMENT_COMPOSER: &str = "=if input.document_documentSource = \"camunda\" then input.document_camundaReference \
     else if input.document_documentSource = \"external\" then { \"camunda.document.type\": \"external\", url: \
     input.document_external_url, name: input.document_external_fileName } else null";

/// A 1x1 PNG, its SHA-256, and where it lives.
const PNG_1PX: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
const PNG_SHA256: &str = "6b7fa434f92a8b80aab02d9bf1a12e49ffcae424e4013a1c4f68b67e3d2bbcd0";
const DOCUMENT_ID: &str = "template-scan-1";
const EXTERNAL_URL: &str = "https://docs.example.com/scans/invoice.png";
const EXTERNAL_HOST: &str = "docs.example.com";
/// The keys the default chain finds in self-managed mode (its environment grant).
const CHAIN_KEY: &str = "AKIDFROMCHAIN";
const WHEN: &str = "2026-01-15T09:30:00Z";
const JOB_ID: &str = "job-from-template";
/// What the harness's fixed `wasi:random` makes of a generated ClientRequestToken.
const GENERATED_TOKEN: &str = "tc-000102030405060708090a0b0c0d0e0f";

fn template_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TEXTRACT_ELEMENT_TEMPLATES") {
        return Some(PathBuf::from(path));
    }
    let package = common::workspace().join("target/tools/node_modules").join(PACKAGE);
    let path = package.join(TEMPLATE_FILE);
    if !path.is_file() {
        return None;
    }
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(package.join("package.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["version"], PACKAGE_VERSION,
        "{PACKAGE} is not the pinned version: run `make tools`"
    );
    Some(path)
}

// ---- the template, as the modeler reads it ---------------------------------------------------------

#[derive(Debug, Clone)]
struct Prop {
    id: Option<String>,
    label: String,
    kind: String,
    binding_type: String,
    /// The binding's `name` (inputs and configuration properties).
    name: Option<String>,
    value: Option<Value>,
    choices: Vec<(String, String)>,
    /// Whether a user may leave it empty: `optional: true` in the official templates;
    /// in ours, which follows 8.8+ (no `optional` inputs), any field without `notEmpty`.
    optional: bool,
    not_empty: bool,
    feel: Option<String>,
    condition: Option<Value>,
}

/// How a template says a field may be left empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// `optional: true` (the official templates).
    Optional,
    /// No `notEmpty` constraint (ours: 8.8+ writes an empty input as `null`).
    NotEmpty,
}

fn parse_props(list: &Value, style: Style) -> Vec<Prop> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| Prop {
            id: p["id"].as_str().map(str::to_string),
            label: p["label"].as_str().unwrap_or_default().to_string(),
            kind: p["type"].as_str().unwrap().to_string(),
            binding_type: p["binding"]["type"].as_str().unwrap().to_string(),
            name: p["binding"]["name"].as_str().map(str::to_string),
            value: p.get("value").cloned(),
            choices: p["choices"]
                .as_array()
                .map(|c| {
                    c.iter()
                        .map(|c| {
                            (
                                c["value"].as_str().unwrap().to_string(),
                                c["name"].as_str().unwrap_or_default().to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            optional: match style {
                Style::Optional => p["optional"].as_bool().unwrap_or(false),
                Style::NotEmpty => !p["constraints"]["notEmpty"].as_bool().unwrap_or(false),
            },
            not_empty: p["constraints"]["notEmpty"].as_bool().unwrap_or(false),
            feel: p["feel"].as_str().map(str::to_string),
            condition: p.get("condition").cloned(),
        })
        .collect()
}

/// How empty optional fields are written, or whether they are filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fill {
    /// Every field filled, optional ones too.
    All,
    /// Optional fields left empty and written as `null` (8.8's empty input mapping).
    EmptyAsNull,
    /// Optional fields left empty and not written (earlier modelers).
    EmptyAbsent,
}

/// One combination: a value per dimension (dropdown ids, `awsCredential`, the
/// credential's own fields prefixed `credential:`).
type Choice = BTreeMap<String, String>;

/// A form's state: which properties are shown, and the value each holds.
struct Form<'a> {
    props: &'a [Prop],
    active: Vec<bool>,
    values: Vec<Option<Value>>,
}

impl Form<'_> {
    fn index(&self, id: &str) -> Option<usize> {
        (0..self.props.len()).find(|&i| self.active[i] && self.props[i].id.as_deref() == Some(id))
    }

    fn value(&self, id: &str) -> Option<&Value> {
        self.index(id).and_then(|i| self.values[i].as_ref())
    }

    fn met(&self, condition: &Value) -> bool {
        if let Some(all) = condition.get("allMatch") {
            return all.as_array().unwrap().iter().all(|c| self.met(c));
        }
        let id = condition["property"].as_str().unwrap();
        if let Some(want) = condition.get("isActive") {
            return self.index(id).is_some() == want.as_bool().unwrap();
        }
        let value = self.value(id);
        if let Some(want) = condition.get("isEmpty") {
            let empty = value.is_none_or(|v| v.is_null() || v == "");
            return empty == want.as_bool().unwrap();
        }
        if let Some(want) = condition.get("equals") {
            return value == Some(want);
        }
        if let Some(list) = condition.get("oneOf") {
            return value.is_some_and(|v| list.as_array().unwrap().contains(v));
        }
        panic!("a condition this test does not know: {condition}")
    }

    /// Shows and hides properties until nothing changes (a condition may depend
    /// on a property that is itself conditional).
    fn settle(props: &[Prop], values: Vec<Option<Value>>) -> Form<'_> {
        let mut form = Form {
            props,
            active: vec![true; props.len()],
            values,
        };
        for _ in 0..=props.len() {
            let next: Vec<bool> = props
                .iter()
                .map(|p| p.condition.as_ref().is_none_or(|c| form.met(c)))
                .collect();
            if next == form.active {
                return form;
            }
            form.active = next;
        }
        panic!("the template's conditions do not settle")
    }

    /// Why a binding that the connector needed was not written, or `None` when
    /// the template gives no reason (then the failure is the connector's fault).
    fn explain_missing(&self, binding: &str, fill: Fill) -> Option<String> {
        let bound: Vec<usize> = (0..self.props.len())
            .filter(|&i| self.props[i].name.as_deref() == Some(binding) && self.props[i].binding_type == "zeebe:input")
            .collect();
        if bound.is_empty() {
            return Some(format!("the template has no field for {binding}"));
        }
        for &i in &bound {
            let p = &self.props[i];
            if self.active[i] && p.optional && fill != Fill::All && self.values[i].is_none() {
                return Some(format!("'{}' ({binding}) is optional and was left empty", p.label));
            }
            if self.active[i] {
                return None;
            }
        }
        let conditions: Vec<String> = bound
            .iter()
            .map(|&i| match &self.props[i].condition {
                Some(c) => c.to_string(),
                None => "none".into(),
            })
            .collect();
        Some(format!(
            "'{}' ({binding}) is hidden: its condition {} is not met",
            self.props[bound[0]].label,
            conditions.join(" / ")
        ))
    }
}

/// A plausible value for a field a user fills in, by property id or binding name.
fn plausible(p: &Prop, credential: bool) -> Value {
    let name = p.name.as_deref().unwrap_or_default();
    if p.feel.as_deref() == Some("required") {
        // A FEEL expression such as `=document`: its value is a Camunda document.
        return match name {
            "input.document" | "input.document_camundaReference" => camunda_document(),
            // Ours: a FEEL list in Textract's own Query shape.
            "input.queries" => json!([{"text": "What is the due date?", "alias": "dueDate", "pages": ["1"]}]),
            other => panic!("no plausible FEEL value for {other}: extend this test"),
        };
    }
    let text = match (credential, p.id.as_deref(), name) {
        (true, _, "authentication.accessKey") => "AKIDFROMCREDENTIAL",
        (true, _, "authentication.secretKey") => "credential/secret/KEY",
        (true, _, "region") => "eu-central-1",
        (false, Some("regionOverride"), _) => "eu-west-1",
        (false, _, "authentication.accessKey") => "AKIDFROMFIELDS",
        (false, _, "authentication.secretKey") => "fields/secret/KEY",
        (false, _, "configuration.region") => "us-east-1",
        (false, _, "input.documentS3Bucket") => "textract-demo-docs",
        (false, _, "input.documentName") => "invoices/2026-01/scan.png",
        (false, _, "input.documentVersion") => "3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
        (false, _, "input.document_external_url") => EXTERNAL_URL,
        (false, _, "input.query") => "What is the invoice total?",
        (false, _, "input.clientRequestToken") => "order-4711",
        (false, _, "input.jobTag") => "invoices",
        (false, _, "input.kmsKeyId") => "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        (false, _, "input.notificationChannelRoleArn") => "arn:aws:iam::123456789012:role/TextractSNS",
        (false, _, "input.notificationChannelSnsTopicArn") => "arn:aws:sns:us-east-1:123456789012:AmazonTextract-done",
        (false, _, "input.outputConfigS3Bucket") => "textract-demo-results",
        (false, _, "input.outputConfigS3Prefix") => "results/",
        // Fields only our template has.
        (false, _, "authentication.sessionToken") => "FwoGZXIvYXdzEXAMPLESESSIONTOKEN",
        (false, _, "configuration.endpoint") => "https://textract-fips.us-east-1.amazonaws.com",
        (false, _, "input.jobId") => JOB_ID,
        (false, _, "input.document_external_fileName") => "invoice.png",
        (false, _, "advanced.documentS3Prefix") => "staging/",
        (false, _, "advanced.resultS3Bucket") => "textract-demo-results",
        (false, _, "advanced.resultS3Prefix") => "results/large/",
        (false, _, "advanced.maxResultBytes") => "4194304",
        (false, _, "advanced.pollInterval") => "PT5S",
        (false, _, "advanced.maxPollInterval") => "PT1M",
        (false, _, "advanced.pollTimeout") => "PT30M",
        (false, _, "advanced.maxAttempts") => "5",
        (_, _, other) => panic!(
            "no plausible value for the field {other} ('{}'): extend this test",
            p.label
        ),
    };
    json!(text)
}

fn camunda_document() -> Value {
    json!({"camunda.document.type": "camunda", "storeId": "in-memory", "documentId": DOCUMENT_ID,
           "contentHash": PNG_SHA256,
           "metadata": {"contentType": "image/png", "size": 70, "fileName": "scan.png"}})
}

/// Sets `name` (dotted) in `root`, creating the objects on the way.
fn set_path(root: &mut Map<String, Value>, name: &str, value: Value) {
    let mut parts: Vec<&str> = name.split('.').collect();
    let last = parts.pop().unwrap();
    let mut node = root;
    for part in parts {
        node = node
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .unwrap_or_else(|| panic!("{name}: {part} is not an object"));
    }
    assert!(!node.contains_key(last), "two shown fields write {name}");
    node.insert(last.to_string(), value);
}

/// FEEL's view of the composer: `input.document_external_fileName` names no
/// field in any version, so FEEL yields `null` for it.
fn compose_document(form: &Form<'_>) -> Value {
    match form.value("input.document_documentSource").and_then(Value::as_str) {
        Some("camunda") => form
            .value("input.document_camundaReference")
            .cloned()
            .unwrap_or(Value::Null),
        Some("external") => json!({"camunda.document.type": "external",
                                   "url": form.value("input.document_external_url").cloned().unwrap_or(Value::Null),
                                   "name": Value::Null}),
        _ => Value::Null,
    }
}

/// The saved credential of a configuration template, as its `property` bindings
/// describe it; `choice` picks its dropdowns and whether optional fields are filled.
fn credential(config: &[Prop], choice: &Choice) -> Value {
    let values = config
        .iter()
        .map(|p| {
            let key = format!("credential:{}", p.id.as_deref().unwrap());
            match p.kind.as_str() {
                "Dropdown" => Some(json!(choice.get(&key).cloned().unwrap_or_else(|| default_choice(p)))),
                _ if !p.not_empty && choice.get(&key).map(String::as_str) == Some("empty") => None,
                _ => Some(plausible(p, true)),
            }
        })
        .collect();
    let form = Form::settle(config, values);
    let mut out = Map::new();
    for (i, p) in config.iter().enumerate() {
        if form.active[i] {
            if let Some(v) = &form.values[i] {
                set_path(&mut out, p.name.as_deref().unwrap(), v.clone());
            }
        }
    }
    Value::Object(out)
}

fn default_choice(p: &Prop) -> String {
    p.value
        .as_ref()
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| p.choices[0].0.clone())
}

/// The variables the modeler writes for one combination, and the form behind them.
fn variables<'a>(props: &'a [Prop], config: &[Prop], choice: &Choice, fill: Fill) -> (Value, Form<'a>) {
    let values = props
        .iter()
        .map(|p| match p.kind.as_str() {
            "Dropdown" => Some(json!(p
                .id
                .as_ref()
                .and_then(|id| choice.get(id).cloned())
                .unwrap_or_else(|| default_choice(p)))),
            "Boolean" => Some(p.value.clone().unwrap_or(json!(false))),
            "Hidden" => p.value.clone(),
            "Configuration" => match choice.get(p.id.as_deref().unwrap()).map(String::as_str) {
                Some("set") => Some(credential(config, choice)),
                _ => None,
            },
            "String" | "Text" if p.binding_type == "zeebe:input" => {
                (!p.optional || fill == Fill::All).then(|| plausible(p, false))
            }
            _ => None,
        })
        .collect();
    let form = Form::settle(props, values);
    let mut out = Map::new();
    for (i, p) in props.iter().enumerate() {
        if !form.active[i] || p.binding_type != "zeebe:input" {
            continue;
        }
        let name = p.name.as_deref().unwrap();
        let written = match (&form.values[i], p.kind.as_str()) {
            (Some(Value::String(s)), "Hidden") if s.starts_with('=') => {
                assert_eq!(s, DOCUMENT_COMPOSER, "a FEEL expression this test does not know");
                Some(compose_document(&form))
            }
            (Some(Value::Bool(b)), "Boolean") => {
                assert_eq!(
                    p.feel.as_deref(),
                    Some("static"),
                    "{name}: a Boolean that is not static FEEL"
                );
                Some(json!(b)) // written as `=true` / `=false`: a boolean
            }
            (Some(v), _) => Some(v.clone()),
            (None, _) if fill == Fill::EmptyAsNull || !p.optional => Some(Value::Null),
            (None, _) => None,
        };
        if let Some(v) = written {
            set_path(&mut out, name, v);
        }
    }
    (Value::Object(out), form)
}

/// Every combination of the template's dropdowns and of the saved credential
/// (set or empty; its dropdowns; its optional fields filled or empty).
fn combinations(props: &[Prop], config: &[Prop]) -> Vec<Choice> {
    let mut dims: Vec<(String, Vec<String>)> = Vec::new();
    for p in props {
        let Some(id) = &p.id else { continue };
        match p.kind.as_str() {
            "Dropdown" if p.choices.len() > 1 => {
                dims.push((id.clone(), p.choices.iter().map(|(v, _)| v.clone()).collect()));
            }
            "Configuration" => {
                dims.push((id.clone(), vec!["set".into(), "empty".into()]));
                for c in config {
                    let key = format!("credential:{}", c.id.as_deref().unwrap());
                    match c.kind.as_str() {
                        "Dropdown" => dims.push((key, c.choices.iter().map(|(v, _)| v.clone()).collect())),
                        _ if !c.not_empty => dims.push((key, vec!["filled".into(), "empty".into()])),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = vec![Choice::new()];
    for (key, options) in dims {
        let mut next = Vec::with_capacity(out.len() * options.len());
        for c in &out {
            for o in &options {
                let mut c = c.clone();
                c.insert(key.clone(), o.clone());
                next.push(c);
            }
        }
        out = next;
    }
    out
}

// ---- what the connector must do with the variables ---------------------------------------------------

/// A field the connector needs, and the binding whose absence explains it.
struct Missing {
    property: &'static str,
    binding: &'static str,
}

enum Expected {
    /// The requests to answer (and check), the AWS key and region they are signed with.
    Success {
        interactions: Vec<Value>,
        key: String,
        region: String,
        execution: &'static str,
        /// Where the document comes from, for the report.
        source: String,
    },
    Invalid(Vec<Missing>),
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn flag(v: &Value, key: &str) -> bool {
    v["input"][key] == json!(true)
}

/// The connector's contract applied to a model's variables, written out
/// independently of the connector's code: what it must send, or what it must
/// refuse. `chain_key` is the key the default chain finds (self-managed runs).
fn expect(vars: &Value, chain_key: Option<&str>) -> Expected {
    let credential = vars.get("awsCredential").filter(|c| c.is_object());
    let auth = match credential {
        Some(c) => &c["authentication"],
        None => &vars["authentication"],
    };
    let key = match text(auth.get("type")).as_deref() {
        Some("defaultCredentialsChain") => chain_key.expect("the default chain runs self-managed").to_string(),
        _ => text(auth.get("accessKey")).expect("the templates require an access key"),
    };
    let region = text(vars.pointer("/configuration/region")).or_else(|| credential.and_then(|c| text(c.get("region"))));
    let input = &vars["input"];
    let uploaded = text(input.get("documentLocationType")).as_deref() == Some("UPLOADED");
    let execution: &'static str = match text(input.get("executionType")).as_deref() {
        Some("SYNC") => "SYNC",
        Some("POLLING") => "POLLING",
        Some("ASYNC") => "ASYNC",
        Some(other) => panic!("an execution type no template offers: {other}"),
        None if uploaded => "SYNC",
        None => "POLLING",
    };
    let mut missing = Vec::new();
    if region.is_none() {
        missing.push(Missing {
            property: "configuration.region",
            binding: "configuration.region",
        });
    }
    let bucket = text(input.get("documentS3Bucket"));
    let name = text(input.get("documentName"));
    let document = input.get("document").filter(|d| !d.is_null());
    if uploaded {
        if document.is_none() {
            missing.push(Missing {
                property: "input.document",
                binding: "input.document",
            });
        }
        assert_eq!(execution, "SYNC", "no template version stages an uploaded document");
    } else {
        if bucket.is_none() {
            missing.push(Missing {
                property: "input.documentS3Bucket",
                binding: "input.documentS3Bucket",
            });
        }
        if name.is_none() {
            missing.push(Missing {
                property: "input.documentName",
                binding: "input.documentName",
            });
        }
    }
    let features: Vec<&str> = [
        ("analyzeTables", "TABLES"),
        ("analyzeForms", "FORMS"),
        ("analyzeQueries", "QUERIES"),
        ("analyzeSignatures", "SIGNATURES"),
        ("analyzeLayout", "LAYOUT"),
    ]
    .into_iter()
    .filter(|(k, _)| flag(vars, k))
    .map(|(_, f)| f)
    .collect();
    assert!(!features.is_empty(), "every template selects a feature by default");
    let query = text(input.get("query"));
    if flag(vars, "analyzeQueries") && query.is_none() {
        missing.push(Missing {
            property: "input.query",
            binding: "input.query",
        });
    }
    if !missing.is_empty() {
        return Expected::Invalid(missing);
    }
    let region = region.unwrap();
    let textract = format!("https://textract.{region}.amazonaws.com/");
    let aws = |target: &str, body: Value, response: Value| {
        json!({"request": {"method": "POST", "url": textract,
                           "headers": {"content-type": "application/x-amz-json-1.1",
                                       "x-amz-target": format!("Textract.{target}")},
                           "body": {"json": body}},
               "response": {"status": 200,
                            "headers": {"Content-Type": "application/x-amz-json-1.1",
                                        "x-amzn-RequestId": format!("req-template-{target}")},
                            "body": {"json": response}}})
    };
    let analysis = json!({"DocumentMetadata": {"Pages": 1}, "AnalyzeDocumentModelVersion": "1.0",
                          "Blocks": [{"BlockType": "PAGE", "Id": "page-1", "Confidence": 99.5}]});
    let mut queries = None;
    if let (true, Some(q)) = (features.contains(&"QUERIES"), &query) {
        queries = Some(json!({"Queries": [{"Text": q}]}));
    }
    let mut interactions = Vec::new();
    let s3_object = || {
        let mut o = json!({"Bucket": bucket.clone().unwrap(), "Name": name.clone().unwrap()});
        if let Some(v) = text(input.get("documentVersion")) {
            o["Version"] = json!(v);
        }
        o
    };
    let with_queries = |mut body: Value| {
        if let Some(q) = &queries {
            body["QueriesConfig"] = q.clone();
        }
        body
    };
    match execution {
        "SYNC" => {
            let doc = if uploaded {
                let doc = document.unwrap();
                match doc["camunda.document.type"].as_str() {
                    Some("camunda") => {}
                    Some("external") => {
                        assert_eq!(doc["url"], EXTERNAL_URL);
                        interactions.push(json!({"request": {"method": "GET", "url": EXTERNAL_URL},
                                                 "response": {"status": 200, "headers": {"Content-Type": "image/png"},
                                                              "body": {"base64": PNG_1PX}}}));
                    }
                    other => panic!("a document kind no template writes: {other:?}"),
                }
                json!({"Bytes": PNG_1PX})
            } else {
                json!({"S3Object": s3_object()})
            };
            interactions.push(aws(
                "AnalyzeDocument",
                with_queries(json!({"Document": doc, "FeatureTypes": features})),
                analysis,
            ));
        }
        "POLLING" => {
            let mut start =
                with_queries(json!({"DocumentLocation": {"S3Object": s3_object()}, "FeatureTypes": features}));
            start["ClientRequestToken"] = json!(GENERATED_TOKEN);
            interactions.push(aws("StartDocumentAnalysis", start, json!({"JobId": JOB_ID})));
            let mut done = analysis.clone();
            done["JobStatus"] = json!("SUCCEEDED");
            interactions.push(aws(
                "GetDocumentAnalysis",
                json!({"JobId": JOB_ID, "MaxResults": 1000}),
                done,
            ));
        }
        _ => {
            let mut start =
                with_queries(json!({"DocumentLocation": {"S3Object": s3_object()}, "FeatureTypes": features}));
            start["ClientRequestToken"] =
                json!(text(input.get("clientRequestToken")).unwrap_or(GENERATED_TOKEN.into()));
            if let Some(tag) = text(input.get("jobTag")) {
                start["JobTag"] = json!(tag);
            }
            if let Some(kms) = text(input.get("kmsKeyId")) {
                start["KMSKeyId"] = json!(kms);
            }
            match (
                text(input.get("notificationChannelRoleArn")),
                text(input.get("notificationChannelSnsTopicArn")),
            ) {
                (Some(role), Some(topic)) => {
                    start["NotificationChannel"] = json!({"SNSTopicArn": topic, "RoleArn": role})
                }
                (None, None) => {}
                _ => panic!("the test fills both notification ARNs or neither"),
            }
            match (
                text(input.get("outputConfigS3Bucket")),
                text(input.get("outputConfigS3Prefix")),
            ) {
                (Some(bucket), prefix) => {
                    start["OutputConfig"] = json!({"S3Bucket": bucket});
                    if let Some(prefix) = prefix {
                        start["OutputConfig"]["S3Prefix"] = json!(prefix);
                    }
                }
                (None, None) => {}
                (None, Some(_)) => panic!("the test fills the output bucket whenever it fills the prefix"),
            }
            interactions.push(aws("StartDocumentAnalysis", start, json!({"JobId": JOB_ID})));
        }
    }
    let source = match document {
        _ if !uploaded => "S3 object".to_string(),
        Some(d) => format!("{} document", d["camunda.document.type"].as_str().unwrap_or("?")),
        None => unreachable!(),
    };
    Expected::Success {
        interactions,
        key,
        region,
        execution,
        source,
    }
}

fn uses_default_chain(vars: &Value) -> bool {
    let credential = vars.get("awsCredential").filter(|c| c.is_object());
    let auth = match credential {
        Some(c) => &c["authentication"],
        None => &vars["authentication"],
    };
    text(auth.get("type")).as_deref() == Some("defaultCredentialsChain")
}

/// Whether the model chose `documentReturnFormat` DOCUMENT (v7+: "Document reference
/// uploads it to the document store and returns the reference").
fn wants_document(vars: &Value) -> bool {
    vars.pointer("/documentReturnFormat/choice").and_then(Value::as_str) == Some("DOCUMENT")
}

/// Whether this build's `document-store` can create documents (WIT `create`):
/// until it can, DOCUMENT cannot be honoured and a JSON result is accepted.
fn store_can_create() -> bool {
    let wit = std::fs::read_to_string(common::workspace().join("wit/connector.wit")).unwrap_or_default();
    let Some(start) = wit.find("interface document-store") else {
        return false;
    };
    let body = &wit[start..];
    let end = body.find("\ninterface ").unwrap_or(body.len());
    body[..end].contains("create: func")
}

/// The properties a `ValidationFailed` message lists.
fn violated_properties(message: &str) -> Vec<String> {
    message
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- Property: "))
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect()
}

// ---- running them ------------------------------------------------------------------------------------

struct Run {
    outcome: Result<String, textract_host::engine::GuestError>,
    requests: Vec<textract_host::transport::cassette::SeenRequest>,
    problems: Vec<String>,
}

fn run(
    harness: &Harness,
    rt: &tokio::runtime::Runtime,
    vars: &Value,
    interactions: Vec<Value>,
    self_managed: bool,
    store: &std::path::Path,
) -> Run {
    let input = vars.to_string();
    let cassette: Cassette = serde_json::from_value(json!({"recordedAt": WHEN, "interactions": interactions})).unwrap();
    let time = cassette.replay_time(None).unwrap();
    let replayer = Arc::new(Mutex::new(Replayer::new(cassette, store.to_path_buf())));
    let mut policy = EgressPolicy::implied_by(&input);
    // The operator allows the host of the model's external documents, as `--allow-host` does.
    policy.allow(EXTERNAL_HOST);
    let mut options = ExecOptions::replay(Mode::Replay(replayer.clone()), policy, ExecutionClock::pinned(time));
    options.documents = Some(FolderStore::shared(store.to_path_buf()));
    if self_managed {
        options.runtime = RuntimeMode::SelfManaged;
        options.grants = Grants {
            env: vec![
                ("AWS_ACCESS_KEY_ID".into(), CHAIN_KEY.into()),
                ("AWS_SECRET_ACCESS_KEY".into(), "chain/secret/KEY".into()),
            ],
            aws_config_dir: None,
        };
    }
    let execution = rt.block_on(harness.execute(&input, options)).unwrap();
    let mut problems = execution.journal.problems.clone();
    problems.extend(replayer.lock().unwrap().unused());
    if !execution.journal.denied.is_empty() {
        problems.push(format!("egress denied: {:?}", execution.journal.denied));
    }
    Run {
        outcome: execution.outcome,
        requests: execution.journal.sent,
        problems,
    }
}

/// Checks one run against what was expected; `Ok(None)` for a success, `Ok(Some(why))`
/// for a failure the template explains, `Err` for anything else.
fn judge(run: &Run, vars: &Value, expected: &Expected, form: &Form<'_>, fill: Fill) -> Result<Option<String>, String> {
    if !run.problems.is_empty() {
        return Err(run.problems.join("; "));
    }
    match expected {
        Expected::Success {
            key, region, execution, ..
        } => {
            let result = run
                .outcome
                .as_ref()
                .map_err(|e| format!("expected a result, got {e:?}"))?;
            let result: Value = serde_json::from_str(result).map_err(|e| format!("result is not JSON: {e}"))?;
            let document = wants_document(vars);
            let scope = format!("Credential={key}/20260115/{region}/textract/aws4_request");
            for r in run.requests.iter().filter(|r| r.url.contains("amazonaws.com")) {
                let auth = r.header("authorization").unwrap_or_default();
                if !auth.contains(&scope) {
                    return Err(format!("{} was not signed with {scope}: {auth}", r.summary()));
                }
            }
            let ok = if result.get("camunda.document.type").is_some() {
                // documentReturnFormat DOCUMENT: the result is a reference to the stored JSON.
                document && result["documentId"].is_string()
            } else if document && store_can_create() {
                return Err(format!(
                    "documentReturnFormat DOCUMENT was chosen, but the result is not a document reference: {:.200}",
                    result.to_string()
                ));
            } else if *execution == "ASYNC" {
                result["jobId"] == JOB_ID
            } else {
                result["blocks"][0]["id"] == "page-1"
            };
            match ok {
                true => Ok(None),
                false => Err(format!(
                    "unexpected {execution} result: {}",
                    result.to_string().chars().take(300).collect::<String>()
                )),
            }
        }
        Expected::Invalid(missing) => {
            let error = match &run.outcome {
                Ok(r) => return Err(format!("expected a validation error, got a result: {:.200}", r)),
                Err(e) => e,
            };
            if error.code != "ValidationFailed" || !run.requests.is_empty() {
                return Err(format!(
                    "expected ValidationFailed before any request, got {error:?} after {} request(s)",
                    run.requests.len()
                ));
            }
            let want: Vec<&str> = missing.iter().map(|m| m.property).collect();
            let got = violated_properties(&error.message);
            if got != want {
                return Err(format!(
                    "expected violations of {want:?}, got {got:?}: {}",
                    error.message
                ));
            }
            let mut why = Vec::new();
            for m in missing {
                match form.explain_missing(m.binding, fill) {
                    Some(reason) => why.push(reason),
                    None => {
                        return Err(format!(
                            "{} is missing although the template shows and requires it",
                            m.binding
                        ))
                    }
                }
            }
            Ok(Some(why.join("; ")))
        }
    }
}

#[derive(Default)]
struct Tally {
    sets: usize,
    runs: usize,
    succeeded: BTreeMap<String, usize>,
    explained: BTreeMap<String, usize>,
    failures: Vec<String>,
}

#[test]
#[ignore = "needs the official element templates: `make tools` installs them (make test runs this when they are)"]
fn every_official_template_model_runs_or_fails_as_the_template_explains() {
    let Some(path) = template_path() else {
        panic!(
            "{PACKAGE}@{PACKAGE_VERSION} is not installed under target/tools: run `make tools` \
             (or set TEXTRACT_ELEMENT_TEMPLATES to the template file)"
        );
    };
    let templates: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut templates: Vec<Value> = match templates {
        Value::Array(list) => list,
        one => vec![one],
    };
    templates.sort_by_key(|t| t["version"].as_u64());
    let versions: Vec<u64> = templates.iter().map(|t| t["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, (1..=8).collect::<Vec<u64>>(), "{}", path.display());

    let store = std::env::temp_dir().join(format!("element-templates-{}", std::process::id()));
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(
        store.join(DOCUMENT_ID),
        base64::engine::general_purpose::STANDARD.decode(PNG_1PX).unwrap(),
    )
    .unwrap();
    let harness = common::harness();
    let rt = common::runtime();

    let mut report = Vec::new();
    let mut all_failures = Vec::new();
    for template in &templates {
        let version = template["version"].as_u64().unwrap();
        let props = parse_props(&template["properties"], Style::Optional);
        let task_type = props
            .iter()
            .find(|p| p.binding_type == "zeebe:taskDefinition" && p.kind == "Hidden" && p.value.is_some())
            .and_then(|p| p.value.clone());
        assert_eq!(task_type, Some(json!(TASK_TYPE)), "v{version}'s task type");
        let config = template["configurationTemplates"]
            .as_array()
            .and_then(|c| c.first())
            .map(|c| parse_props(&c["properties"], Style::Optional))
            .unwrap_or_default();

        // Identical variables behave identically: each distinct set runs once.
        let mut sets: BTreeMap<String, (Value, Choice, Fill)> = BTreeMap::new();
        for choice in combinations(&props, &config) {
            for fill in [Fill::All, Fill::EmptyAsNull, Fill::EmptyAbsent] {
                let (vars, _) = variables(&props, &config, &choice, fill);
                sets.entry(vars.to_string()).or_insert((vars, choice.clone(), fill));
            }
        }
        let mut tally = Tally {
            sets: sets.len(),
            ..Tally::default()
        };
        for (vars, choice, fill) in sets.values() {
            let (_, form) = variables(&props, &config, choice, *fill);
            let label = format!("v{version} {choice:?} {fill:?}");
            let chain = uses_default_chain(vars);
            // The default chain is "Hybrid/Self-Managed only": self-managed, it must work
            // as any other model; in SaaS, it must be refused before any call.
            let expected = expect(vars, chain.then_some(CHAIN_KEY));
            let interactions = match &expected {
                Expected::Success { interactions, .. } => interactions.clone(),
                Expected::Invalid(_) => Vec::new(),
            };
            let outcome = run(harness, &rt, vars, interactions, chain, &store);
            tally.runs += 1;
            match judge(&outcome, vars, &expected, &form, *fill) {
                Ok(None) => {
                    let Expected::Success { execution, source, .. } = &expected else {
                        unreachable!()
                    };
                    let mode = if chain {
                        ", self-managed with the default chain"
                    } else {
                        ""
                    };
                    let format = match (wants_document(vars), store_can_create()) {
                        (true, true) => ", result as a document reference",
                        (true, false) => ", DOCUMENT chosen, JSON returned (no document-store create yet)",
                        (false, _) => "",
                    };
                    *tally
                        .succeeded
                        .entry(format!("{execution} of a {source}{format}{mode}"))
                        .or_default() += 1;
                }
                Ok(Some(why)) => *tally.explained.entry(why).or_default() += 1,
                Err(e) => tally.failures.push(format!("{label}: {e}\n      variables: {vars}")),
            }
            if chain {
                let saas = run(harness, &rt, vars, Vec::new(), false, &store);
                tally.runs += 1;
                match &saas.outcome {
                    Err(e) if e.code == "DefaultCredentialsChainNotSupported" && saas.requests.is_empty() => {
                        *tally
                            .explained
                            .entry(
                                "SaaS: 'Default Credentials Chain (Hybrid/Self-Managed only)' is refused".to_string(),
                            )
                            .or_default() += 1;
                    }
                    other => tally.failures.push(format!(
                        "{label} in SaaS: expected DefaultCredentialsChainNotSupported, got {other:?}"
                    )),
                }
            }
        }
        let succeeded: usize = tally.succeeded.values().sum();
        let explained: usize = tally.explained.values().sum();
        report.push(format!(
            "template v{version}: {} variable sets, {} runs: {succeeded} succeeded, {explained} failed as the template \
             explains, {} unexplained",
            tally.sets,
            tally.runs,
            tally.failures.len()
        ));
        for (what, n) in &tally.succeeded {
            report.push(format!("    {n:>3} succeeded: {what}"));
        }
        for (why, n) in &tally.explained {
            report.push(format!("    {n:>3} refused: {why}"));
        }
        all_failures.extend(tally.failures);
    }
    std::fs::remove_dir_all(&store).ok();
    println!("{} ({PACKAGE}@{PACKAGE_VERSION})", path.display());
    for line in &report {
        println!("{line}");
    }
    assert!(
        all_failures.is_empty(),
        "{} variable set(s) did not run as the template promises:\n  {}",
        all_failures.len(),
        all_failures.join("\n  ")
    );
}

/// Our own template (`element-templates/aws-textract-connector.json`): every
/// combination of its dropdowns and of a saved credential, with the fields that
/// may stay empty filled or written as 8.8+ writes them (`null`), must pass the
/// connector's validation (shown by its first request, which this test leaves
/// unanswered) or fail before any request as the template explains.
#[test]
fn every_model_of_our_template_passes_validation_or_fails_as_it_explains() {
    let path = common::workspace().join("element-templates/aws-textract-connector.json");
    let template: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let props = parse_props(&template["properties"], Style::NotEmpty);
    let config = template["configurationTemplates"][0]["properties"].clone();
    let config = parse_props(&config, Style::NotEmpty);
    let mut sets: BTreeMap<String, (Value, Choice, Fill)> = BTreeMap::new();
    for choice in combinations(&props, &config) {
        for fill in [Fill::All, Fill::EmptyAsNull] {
            let (vars, _) = variables(&props, &config, &choice, fill);
            sets.entry(vars.to_string()).or_insert((vars, choice.clone(), fill));
        }
    }
    let store = std::env::temp_dir().join(format!("our-element-template-{}", std::process::id()));
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(
        store.join(DOCUMENT_ID),
        base64::engine::general_purpose::STANDARD.decode(PNG_1PX).unwrap(),
    )
    .unwrap();
    let harness = common::harness();
    let rt = common::runtime();
    let mut passed: BTreeMap<String, usize> = BTreeMap::new();
    let mut explained: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for (vars, choice, fill) in sets.values() {
        let (_, form) = variables(&props, &config, choice, *fill);
        let chain = uses_default_chain(vars);
        let outcome = run(harness, &rt, vars, Vec::new(), chain, &store);
        let error = outcome.outcome.as_ref().err();
        match (outcome.requests.first(), error) {
            // Validation passed: the first request went out (and found no answer).
            (Some(first), _) if outcome.problems.iter().any(|p| p.contains("cassette miss")) => {
                let what = match first.header("x-amz-target") {
                    Some(target) => target.to_string(),
                    None => format!("{} {}", first.method, first.url.split('/').nth(2).unwrap_or_default()),
                };
                let execution = vars["input"]["executionType"].as_str().unwrap_or("?");
                *passed.entry(format!("{execution}: first request {what}")).or_default() += 1;
            }
            (None, Some(e)) if e.code == "ValidationFailed" => {
                let mut why = Vec::new();
                for property in violated_properties(&e.message) {
                    match form.explain_missing(&property, *fill) {
                        Some(reason) => why.push(reason),
                        None => why.push(format!("UNEXPLAINED {property}")),
                    }
                }
                let why = why.join("; ");
                match why.contains("UNEXPLAINED") {
                    true => failures.push(format!("{choice:?} {fill:?}: {}\n      variables: {vars}", e.message)),
                    false => *explained.entry(why).or_default() += 1,
                }
            }
            _ => failures.push(format!(
                "{choice:?} {fill:?}: neither a request nor a validation error: {:?} {:?}\n      variables: {vars}",
                outcome.outcome, outcome.problems
            )),
        }
        if chain {
            let saas = run(harness, &rt, vars, Vec::new(), false, &store);
            match &saas.outcome {
                Err(e) if e.code == "DefaultCredentialsChainNotSupported" && saas.requests.is_empty() => {
                    *explained
                        .entry("SaaS: 'Default credentials chain (self-managed only)' is refused".into())
                        .or_default() += 1;
                }
                other => failures.push(format!("{choice:?} in SaaS: expected the chain refused, got {other:?}")),
            }
        }
    }
    std::fs::remove_dir_all(&store).ok();
    println!(
        "our template v{}: {} variable sets, {} runs: {} passed validation, {} failed as the template explains, \
         {} unexplained",
        template["version"],
        sets.len(),
        passed.values().sum::<usize>() + explained.values().sum::<usize>() + failures.len(),
        passed.values().sum::<usize>(),
        explained.values().sum::<usize>(),
        failures.len()
    );
    for (what, n) in &passed {
        println!("    {n:>3} passed: {what}");
    }
    for (why, n) in &explained {
        println!("    {n:>3} refused: {why}");
    }
    assert!(
        failures.is_empty(),
        "{} variable set(s) of our template:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    // FETCH, staged documents and every official execution type are reachable.
    for needed in [
        "FETCH: first request Textract.GetDocumentAnalysis",
        "POLLING: first request PUT",
    ] {
        assert!(
            passed.keys().any(|k| k.starts_with(needed)),
            "no model of our template reached {needed}: {passed:?}"
        );
    }
}

/// The model itself, without the package: the condition rules the test relies on.
#[test]
fn hidden_fields_hide_what_depends_on_them() {
    let props = parse_props(
        &json!([
            {"id": "kind", "type": "Dropdown", "value": "a", "binding": {"type": "zeebe:input", "name": "x.kind"},
             "choices": [{"name": "A", "value": "a"}, {"name": "B", "value": "b"}],
             "condition": {"property": "gate", "equals": "open", "type": "simple"}},
            {"id": "gate", "type": "Dropdown", "value": "open", "binding": {"type": "zeebe:input", "name": "x.gate"},
             "choices": [{"name": "Open", "value": "open"}, {"name": "Shut", "value": "shut"}]},
            {"id": "bucket", "label": "Bucket", "type": "String", "binding": {"type": "zeebe:input", "name": "input.documentS3Bucket"},
             "constraints": {"notEmpty": true}, "condition": {"property": "kind", "equals": "a", "type": "simple"}},
            {"id": "tag", "label": "Tag", "type": "String", "optional": true, "binding": {"type": "zeebe:input", "name": "input.jobTag"},
             "condition": {"property": "bucket", "isActive": true, "type": "simple"}},
            {"id": "flag", "type": "Boolean", "value": true, "feel": "static", "binding": {"type": "zeebe:input", "name": "x.flag"}}
        ]),
        Style::Optional,
    );
    let choice = |gate: &str| Choice::from([("gate".to_string(), gate.to_string()), ("kind".into(), "a".into())]);
    let (vars, _) = variables(&props, &[], &choice("open"), Fill::EmptyAsNull);
    assert_eq!(
        vars,
        json!({"x": {"kind": "a", "gate": "open", "flag": true},
               "input": {"documentS3Bucket": "textract-demo-docs", "jobTag": null}})
    );
    let (vars, _) = variables(&props, &[], &choice("open"), Fill::EmptyAbsent);
    assert_eq!(vars["input"], json!({"documentS3Bucket": "textract-demo-docs"}));
    // Shut hides kind, so the bucket's condition sees no value and the tag goes too.
    let (vars, form) = variables(&props, &[], &choice("shut"), Fill::All);
    assert_eq!(vars, json!({"x": {"gate": "shut", "flag": true}}));
    let why = form.explain_missing("input.documentS3Bucket", Fill::All).unwrap();
    assert!(why.starts_with("'Bucket' (input.documentS3Bucket) is hidden"), "{why}");
    assert_eq!(combinations(&props, &[]).len(), 4);
}
