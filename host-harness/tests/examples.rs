//! The example process of README "Run it against Camunda"
//! (`examples/worker/textract-process.bpmn`): well-formed XML, every prefix
//! declared, a Camunda 8 BPMN model whose one service task is the connector's
//! job type; and the variables its input mappings produce run through
//! `textract-host worker` to a completion under its `resultVariable`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::worker::{self, assert_strict, JOB_TYPE};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use textract_host::testkit::aws_standin::{Answer, AwsStandIn};
use textract_host::testkit::camunda::{CamundaStandIn, JobSpec, JobState, StandInConfig};

const BPMN: &str = "http://www.omg.org/spec/BPMN/20100524/MODEL";
const ZEEBE: &str = "http://camunda.org/schema/zeebe/1.0";
const MODELER: &str = "http://camunda.org/schema/modeler/1.0";

fn example() -> PathBuf {
    common::workspace().join("examples/worker/textract-process.bpmn")
}

/// One element of the document: its qualified name, its namespace (resolved
/// through the `xmlns` declarations in scope), its attributes and its parent.
#[derive(Debug)]
struct Element {
    name: String,
    namespace: String,
    attrs: BTreeMap<String, String>,
    parent: Option<usize>,
}

impl Element {
    fn local(&self) -> &str {
        self.name.rsplit(':').next().unwrap()
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }
}

/// A small well-formedness check (XML 1.0 as far as a BPMN file needs it):
/// one root, every tag closed in order, attributes quoted and not repeated,
/// entity references known, comments without `--`, nothing but whitespace,
/// comments and processing instructions outside the root, and every prefix of
/// an element or attribute declared. The elements in document order.
fn parse(xml: &str) -> Result<Vec<Element>, String> {
    let mut elements: Vec<Element> = Vec::new();
    let mut open: Vec<(usize, BTreeMap<String, String>)> = Vec::new(); // element, namespaces in scope
    let mut roots = 0;
    let mut rest = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    if let Some(after) = rest.strip_prefix("<?xml") {
        rest = &after[after.find("?>").ok_or("the XML declaration is not closed")? + 2..];
    }
    while !rest.is_empty() {
        let text_end = rest.find('<').unwrap_or(rest.len());
        let text = &rest[..text_end];
        if open.is_empty() && !text.trim().is_empty() {
            return Err(format!("text outside the root element: {:?}", text.trim()));
        }
        check_entities(text)?;
        rest = &rest[text_end..];
        if rest.is_empty() {
            break;
        }
        if let Some(after) = rest.strip_prefix("<!--") {
            let end = after.find("-->").ok_or("a comment is not closed")?;
            if after[..end].contains("--") {
                return Err("a comment contains --".into());
            }
            rest = &after[end + 3..];
        } else if let Some(after) = rest.strip_prefix("<![CDATA[") {
            if open.is_empty() {
                return Err("CDATA outside the root element".into());
            }
            rest = &after[after.find("]]>").ok_or("a CDATA section is not closed")? + 3..];
        } else if let Some(after) = rest.strip_prefix("<?") {
            rest = &after[after.find("?>").ok_or("a processing instruction is not closed")? + 2..];
        } else if rest.starts_with("<!") {
            return Err("a DOCTYPE or other declaration inside the document".into());
        } else if let Some(after) = rest.strip_prefix("</") {
            let end = after.find('>').ok_or("an end tag is not closed")?;
            let name = after[..end].trim_end();
            let (index, _) = open.pop().ok_or_else(|| format!("</{name}> closes nothing"))?;
            if elements[index].name != name {
                return Err(format!("</{name}> closes <{}>", elements[index].name));
            }
            rest = &after[end + 1..];
        } else {
            let end = tag_end(rest).ok_or("a start tag is not closed")?;
            let inner = &rest[1..end];
            let (inner, empty) = match inner.strip_suffix('/') {
                Some(i) => (i, true),
                None => (inner, false),
            };
            let name_end = inner.find(|c: char| c.is_whitespace()).unwrap_or(inner.len());
            let name = &inner[..name_end];
            if !is_name(name) {
                return Err(format!("<{name}> is not a valid element name"));
            }
            let attrs = attributes(&inner[name_end..]).map_err(|e| format!("<{name}>: {e}"))?;
            let mut scope = open.last().map(|(_, ns)| ns.clone()).unwrap_or_default();
            for (key, value) in &attrs {
                if key == "xmlns" {
                    scope.insert(String::new(), value.clone());
                } else if let Some(prefix) = key.strip_prefix("xmlns:") {
                    scope.insert(prefix.to_string(), value.clone());
                }
            }
            let prefix_of = |n: &str| n.split_once(':').map_or("", |(p, _)| p).to_string();
            // An unprefixed name without a default namespace is in no namespace.
            let namespace = match (prefix_of(name).as_str(), scope.get(&prefix_of(name))) {
                (_, Some(ns)) => ns.clone(),
                ("", None) => String::new(),
                (_, None) => return Err(format!("<{name}>: its prefix is not declared")),
            };
            for key in attrs.keys().filter(|k| k.contains(':') && !k.starts_with("xmlns:")) {
                if !scope.contains_key(&prefix_of(key)) {
                    return Err(format!("<{name}>: the prefix of {key} is not declared"));
                }
            }
            if open.is_empty() {
                roots += 1;
                if roots > 1 {
                    return Err(format!("a second root element <{name}>"));
                }
            }
            elements.push(Element {
                name: name.to_string(),
                namespace,
                attrs,
                parent: open.last().map(|(i, _)| *i),
            });
            if !empty {
                open.push((elements.len() - 1, scope));
            }
            rest = &rest[end + 1..];
        }
    }
    if let Some((index, _)) = open.last() {
        return Err(format!("<{}> is never closed", elements[*index].name));
    }
    if roots == 0 {
        return Err("no root element".into());
    }
    Ok(elements)
}

/// Where a start tag ends: the first `>` outside a quoted attribute value.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '>') => return Some(i),
            (None, '<') if i > 0 => return None,
            _ => {}
        }
    }
    None
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
        && name.matches(':').count() <= 1
}

fn attributes(mut s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut attrs = BTreeMap::new();
    loop {
        let trimmed = s.trim_start();
        if trimmed.is_empty() {
            return Ok(attrs);
        }
        if trimmed.len() == s.len() {
            return Err(format!("no space before {trimmed:?}"));
        }
        let eq = trimmed
            .find('=')
            .ok_or_else(|| format!("an attribute without a value: {trimmed:?}"))?;
        let name = trimmed[..eq].trim_end();
        if !is_name(name) {
            return Err(format!("{name:?} is not a valid attribute name"));
        }
        let value = trimmed[eq + 1..].trim_start();
        let quote = value
            .chars()
            .next()
            .filter(|c| matches!(c, '"' | '\''))
            .ok_or_else(|| format!("{name}'s value is not quoted"))?;
        let close = value[1..]
            .find(quote)
            .ok_or_else(|| format!("{name}'s value is not closed"))?;
        let text = &value[1..1 + close];
        if text.contains('<') {
            return Err(format!("{name}'s value contains <"));
        }
        check_entities(text)?;
        if attrs.insert(name.to_string(), unescape(text)).is_some() {
            return Err(format!("{name} is repeated"));
        }
        s = &value[close + 2..];
    }
}

fn check_entities(text: &str) -> Result<(), String> {
    for (i, _) in text.match_indices('&') {
        let reference = &text[i + 1..text[i..].find(';').map_or(i + 1, |e| i + e)];
        let known = matches!(reference, "amp" | "lt" | "gt" | "quot" | "apos")
            || reference
                .strip_prefix("#x")
                .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
            || reference
                .strip_prefix('#')
                .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()));
        if !known {
            return Err(format!(
                "an unknown or unterminated entity reference near {:?}",
                &text[i..text.len().min(i + 12)]
            ));
        }
    }
    Ok(())
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[test]
fn the_checker_refuses_what_is_not_well_formed() {
    for bad in [
        "<a><b></a></b>",
        "<a x=1/>",
        "<a x='1' x='2'/>",
        "<a>&nbsp;</a>",
        "<a/><b/>",
        "<a>",
        "text<a/>",
        "<p:a/>",
        "<a p:x='1'/>",
        "<a><!-- a -- b --></a>",
    ] {
        assert!(parse(bad).is_err(), "accepted {bad:?}");
    }
    let ok = parse("<?xml version=\"1.0\"?>\n<!-- c --><r xmlns:p=\"urn:p\"><p:a p:x=\"&amp;&lt;\"/><b>t &lt; &#38; &#x26;</b></r>\n").unwrap();
    assert_eq!(ok.len(), 3);
    assert_eq!((ok[1].namespace.as_str(), ok[1].attr("p:x")), ("urn:p", Some("&<")));
}

fn load() -> Vec<Element> {
    let xml = std::fs::read_to_string(example()).unwrap();
    parse(&xml).unwrap_or_else(|e| panic!("{} is not well-formed XML: {e}", example().display()))
}

fn find<'a>(elements: &'a [Element], namespace: &str, local: &str) -> Vec<(usize, &'a Element)> {
    elements
        .iter()
        .enumerate()
        .filter(|(_, e)| e.namespace == namespace && e.local() == local)
        .collect()
}

/// The children of `parent` with this namespace and local name.
fn children<'a>(elements: &'a [Element], parent: usize, namespace: &str, local: &str) -> Vec<&'a Element> {
    find(elements, namespace, local)
        .into_iter()
        .filter(|(_, e)| e.parent == Some(parent))
        .map(|(_, e)| e)
        .collect()
}

/// The one service task and its index.
fn service_task(elements: &[Element]) -> usize {
    let tasks = find(elements, BPMN, "serviceTask");
    assert_eq!(tasks.len(), 1, "one service task");
    tasks[0].0
}

/// The index of the `zeebe:LOCAL` element in the task's `bpmn:extensionElements`.
fn extension(elements: &[Element], task: usize, local: &str) -> usize {
    let ext = find(elements, BPMN, "extensionElements")
        .into_iter()
        .find(|(_, e)| e.parent == Some(task))
        .map(|(i, _)| i)
        .expect("the task has extensionElements");
    let found: Vec<usize> = find(elements, ZEEBE, local)
        .into_iter()
        .filter(|(_, e)| e.parent == Some(ext))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(found.len(), 1, "one zeebe:{local}");
    found[0]
}

#[test]
fn the_example_process_is_a_camunda_8_model_of_the_connectors_task() {
    let elements = load();
    let root = &elements[0];
    assert_eq!((root.namespace.as_str(), root.local()), (BPMN, "definitions"));
    assert_eq!(root.attr("xmlns:zeebe"), Some(ZEEBE));
    assert_eq!(root.attr("xmlns:modeler"), Some(MODELER));
    assert_eq!(root.attr("modeler:executionPlatform"), Some("Camunda Cloud"));

    let processes = find(&elements, BPMN, "process");
    assert_eq!(processes.len(), 1);
    assert_eq!(processes[0].1.attr("id"), Some("textract-process"));
    assert_eq!(processes[0].1.attr("isExecutable"), Some("true"));

    let task = service_task(&elements);
    let definition = &elements[extension(&elements, task, "taskDefinition")];
    assert_eq!(definition.attr("type"), Some(JOB_TYPE));
    assert_eq!(definition.attr("retries"), Some("3"));

    let headers: BTreeMap<&str, &str> = children(&elements, extension(&elements, task, "taskHeaders"), ZEEBE, "header")
        .into_iter()
        .map(|h| (h.attr("key").unwrap(), h.attr("value").unwrap()))
        .collect();
    assert_eq!(headers.get("resultVariable"), Some(&"textract"));
    let backoff = headers.get("retryBackoff").expect("a retryBackoff header");
    assert!(
        textract_connector::duration::parse(backoff).is_some(),
        "{backoff} is not an ISO-8601 duration"
    );
    assert!(
        !headers.contains_key("resultExpression"),
        "the worker does not evaluate resultExpression yet"
    );

    let targets: Vec<&str> = children(&elements, extension(&elements, task, "ioMapping"), ZEEBE, "input")
        .into_iter()
        .map(|i| i.attr("target").unwrap())
        .collect();
    for needed in [
        "authentication.type",
        "authentication.accessKey",
        "authentication.secretKey",
        "configuration.region",
        "input.executionType",
        "input.documentLocationType",
        "input.documentS3Bucket",
        "input.documentName",
    ] {
        assert!(targets.contains(&needed), "no input mapping for {needed}");
    }

    // Start event -> the task -> end event, and the diagram draws what exists.
    let ids: Vec<&str> = elements
        .iter()
        .filter(|e| e.namespace == BPMN)
        .filter_map(|e| e.attr("id"))
        .collect();
    let flows = find(&elements, BPMN, "sequenceFlow");
    assert_eq!(flows.len(), 2);
    let start = find(&elements, BPMN, "startEvent")[0].1.attr("id").unwrap();
    let end = find(&elements, BPMN, "endEvent")[0].1.attr("id").unwrap();
    let task_id = elements[task].attr("id").unwrap();
    let edges: Vec<(&str, &str)> = flows
        .iter()
        .map(|(_, f)| (f.attr("sourceRef").unwrap(), f.attr("targetRef").unwrap()))
        .collect();
    assert_eq!(edges, [(start, task_id), (task_id, end)]);
    for drawn in elements.iter().filter_map(|e| e.attr("bpmnElement")) {
        assert!(
            ids.contains(&drawn),
            "the diagram draws {drawn}, which the process does not have"
        );
    }
}

/// The job's variables as Zeebe's input mappings make them from the instance's
/// variables: a static value, `=true`/`=false`, or `=a.b` (a variable's path;
/// the only FEEL the example uses), each put at its dotted target.
fn mapped_variables(instance: &Value) -> Value {
    let elements = load();
    let task = service_task(&elements);
    let mut local = Map::new();
    for input in children(&elements, extension(&elements, task, "ioMapping"), ZEEBE, "input") {
        let source = input.attr("source").unwrap();
        let value = match source.strip_prefix('=').map(str::trim) {
            None => json!(source),
            Some("true") => json!(true),
            Some("false") => json!(false),
            Some(path) => {
                assert!(
                    path.split('.').all(is_name),
                    "the test evaluates only paths, not {source}"
                );
                path.split('.').fold(instance.clone(), |v, step| v[step].clone())
            }
        };
        let mut target = &mut local;
        let steps: Vec<&str> = input.attr("target").unwrap().split('.').collect();
        for step in &steps[..steps.len() - 1] {
            target = target
                .entry(step.to_string())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .unwrap();
        }
        target.insert(steps[steps.len() - 1].to_string(), value);
    }
    // A job carries every variable in scope: the instance's and the task's own.
    let mut all = instance.as_object().unwrap().clone();
    all.extend(local);
    Value::Object(all)
}

#[test]
fn the_example_process_runs_through_the_worker() {
    let elements = load();
    let task = service_task(&elements);
    let headers: BTreeMap<String, String> =
        children(&elements, extension(&elements, task, "taskHeaders"), ZEEBE, "header")
            .into_iter()
            .map(|h| (h.attr("key").unwrap().to_string(), h.attr("value").unwrap().to_string()))
            .collect();
    // One answer serves both calls of POLLING: StartDocumentAnalysis reads its JobId,
    // GetDocumentAnalysis its status, metadata and blocks.
    let aws = AwsStandIn::start(Answer::json(
        200,
        r#"{"JobId":"0f2c5a4e-example","JobStatus":"SUCCEEDED","DocumentMetadata":{"Pages":1},"Blocks":[]}"#,
    ))
    .unwrap();
    let instance = json!({"aws": {"accessKey": "AKIDEXAMPLE", "secretKey": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                  "region": "us-east-1"},
                          "documentBucket": "textract-demo-docs", "documentKey": "invoices/2026-01.pdf"});
    let mut variables = mapped_variables(&instance);
    // The operator's part: the test's AWS is a local stand-in.
    variables["configuration"]["endpoint"] = json!(aws.endpoint());

    let cluster = CamundaStandIn::start_in_thread(StandInConfig::default()).unwrap();
    let mut spec = JobSpec::new(JOB_TYPE, variables);
    spec.custom_headers = headers;
    let key = cluster.create_job(spec);

    let (code, text) = worker::run_once(&cluster, &["--allow-host", &aws.authority()], Duration::from_secs(90));
    assert_eq!(code, 0, "{text}");

    let completions = cluster.completions();
    assert_eq!(completions.len(), 1, "{text}\nfailures: {:#?}", cluster.failures());
    assert_eq!(completions[0].key, key);
    let result = &completions[0].body["variables"]["textract"];
    assert_eq!(result["jobStatus"], "SUCCEEDED", "{result}");
    assert_eq!(result["documentMetadata"]["pages"], 1);
    assert_eq!(cluster.job(&key).unwrap().state, JobState::Completed);

    let seen = aws.seen();
    let targets: Vec<&str> = seen.iter().filter_map(|s| s.target.as_deref()).collect();
    assert_eq!(
        targets,
        ["Textract.StartDocumentAnalysis", "Textract.GetDocumentAnalysis"]
    );
    let start: Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(
        start["DocumentLocation"]["S3Object"],
        json!({"Bucket": "textract-demo-docs", "Name": "invoices/2026-01.pdf"})
    );
    assert_eq!(start["FeatureTypes"], json!(["TABLES", "FORMS"]));
    assert!(seen.iter().all(|s| s.authorization), "every AWS call is signed");
    assert!(!text.contains("wJalrXUtnFEMI"), "a credential reached the log:\n{text}");
    assert_strict(&cluster);
}
