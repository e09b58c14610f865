//! Shared by the moto tests (moto.rs, worker_moto.rs): the configuration
//! `tests/moto/setup.py` writes, the endpoint to admit, and a task's
//! variables for one of its identities.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};

/// The JSON `TEXTRACT_MOTO_CONFIG` names: `.ci/run` starts moto and sets it.
pub fn config() -> Value {
    let path = std::env::var("TEXTRACT_MOTO_CONFIG")
        .unwrap_or_else(|_| panic!("needs moto: TEXTRACT_MOTO_CONFIG is not set (.ci/run starts moto and sets it)"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `host:port` of the moto endpoint, for `--allow-host`: an
/// `http://127.0.0.1:PORT` override is called only when the operator allows it.
pub fn host(config: &Value) -> String {
    let endpoint = config["endpoint"].as_str().unwrap();
    let authority = endpoint.split_once("://").map_or(endpoint, |(_, rest)| rest);
    authority.split('/').next().unwrap().to_string()
}

/// A task's variables: one of setup.py's identities (with its session token,
/// when it has one), moto as the endpoint override.
pub fn task(config: &Value, identity: &str, input: Value) -> Value {
    let creds = &config[identity];
    let mut auth = json!({"type": "credentials", "accessKey": creds["accessKey"], "secretKey": creds["secretKey"]});
    if let Some(token) = creds.get("sessionToken") {
        auth["sessionToken"] = token.clone();
    }
    json!({"authentication": auth,
           "configuration": {"region": config["region"], "endpoint": config["endpoint"]},
           "input": input})
}
