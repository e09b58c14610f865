//! The entry point: JSON variables in, Camunda-shaped JSON result out. It ties
//! the Camunda side (binding, validation), the AWS side (the default credentials
//! chain) and execution together; the WIT glue in `lib.rs` calls it, and so do
//! native tests and the bench.

use crate::aws::credentials::chain;
use crate::camunda::{input, validation};
use crate::error::Result;
use crate::execution;
use crate::platform::{Context, RuntimeMode};

/// Runs one task: JSON variables in, Camunda-shaped JSON result out.
pub fn execute(ctx: &mut Context<'_>, raw_input: &str) -> Result<String> {
    let mut parsed = input::parse(raw_input)?;
    let chain = parsed.auth == Some(input::Auth::DefaultChain) && ctx.mode == RuntimeMode::SelfManaged;
    if chain && parsed.region.as_deref().is_none_or(|r| r.trim().is_empty()) {
        // The chain's grants may name the region (AWS_REGION, the profile).
        parsed.region = chain::resolve_region(ctx.platform);
    }
    let mut task = validation::validate(parsed, ctx.mode)?;
    validation::check_endpoint_allowed(&task, ctx.mode, ctx.platform)?;
    if task.default_chain {
        let (credentials, source) = chain::resolve(ctx, &task.region)?;
        ctx.platform.progress(&format!(
            "textract: using credentials from {source} (access key {})",
            credentials.redacted_key_id()
        ));
        task.credentials = credentials;
    }
    execution::run(ctx, &task)
}

#[cfg(test)]
mod tests {
    //! The rules a hostile tenant or service meets at the entry point, end to
    //! end over the fake host: what is refused before any call, and what stops.
    use super::*;
    use crate::error::ErrorKind;
    use crate::platform::fake::FakeHost;
    use crate::platform::http::HttpResponse;
    use serde_json::{json, Value};

    fn input(configuration: Value, execution: &str) -> String {
        json!({
            "authentication": {"type": "credentials", "accessKey": "AKIDEXAMPLE", "secretKey": "secret"},
            "configuration": configuration,
            "input": {"executionType": execution, "documentLocationType": "S3",
                      "documentS3Bucket": "docs", "documentName": "a.png", "analyzeTables": true}
        })
        .to_string()
    }

    fn ok(body: Value) -> crate::error::Result<HttpResponse> {
        Ok(HttpResponse {
            status: 200,
            headers: vec![],
            body: body.to_string().into_bytes(),
        })
    }

    #[test]
    fn saas_endpoints_must_be_aws_service_hosts() {
        for endpoint in [
            "http://169.254.169.254/latest/meta-data/",
            "http://127.0.0.1:4566",
            "https://127.1",
            "https://2130706433",
            "https://0x7f000001",
            "https://0.0.0.0",
            "https://[::1]",
            "https://[::ffff:169.254.169.254]",
            "https://10.0.0.1",
            "https://metadata.google.internal",
            "https://kubernetes.default.svc",
            "http://textract.us-east-1.amazonaws.com",
            "https://textract.us-east-1.amazonaws.com.evil.com",
            "https://textract.cn-north-1.amazonaws.com.cn",
        ] {
            let mut host = FakeHost::default();
            let out = host.run(|ctx| {
                execute(
                    ctx,
                    &input(json!({"region": "us-east-1", "endpoint": endpoint}), "SYNC"),
                )
            });
            let e = out.unwrap_err();
            assert_eq!(
                (e.kind(), e.code().as_str()),
                (ErrorKind::InvalidInput, "EndpointNotAllowed"),
                "{endpoint}"
            );
            assert!(e.message().contains("is not allowed"), "{}", e.message());
            assert!(host.http.requests.is_empty(), "{endpoint}: refused before any call");
        }
    }

    #[test]
    fn aws_hosts_and_operator_entries_pass_the_endpoint_rule() {
        let analyzed = json!({"DocumentMetadata": {"Pages": 1}, "Blocks": []});
        for (endpoint, allowed) in [
            ("https://textract-fips.us-east-1.amazonaws.com", None),
            ("https://vpce-1.textract.us-east-1.vpce.amazonaws.com", None),
            ("http://127.0.0.1:4566", Some("127.0.0.1:4566")),
        ] {
            let mut host = FakeHost::answering(vec![ok(analyzed.clone())]);
            host.platform.operator_allowed = allowed.into_iter().map(String::from).collect();
            let out = host.run(|ctx| {
                execute(
                    ctx,
                    &input(json!({"region": "us-east-1", "endpoint": endpoint}), "SYNC"),
                )
            });
            assert!(out.is_ok(), "{endpoint}: {out:?}");
            assert!(host.http.requests[0].url.starts_with(endpoint), "{endpoint}");
        }
        // Self-managed: the operator is the tenant; the override is theirs to choose.
        let mut host = FakeHost::answering(vec![ok(analyzed)]);
        host.mode = RuntimeMode::SelfManaged;
        let out = host.run(|ctx| {
            execute(
                ctx,
                &input(
                    json!({"region": "us-east-1", "endpoint": "http://localhost:4566"}),
                    "SYNC",
                ),
            )
        });
        assert!(out.is_ok(), "{out:?}");
    }

    #[test]
    fn oversized_or_broken_credentials_are_invalid_input() {
        for (field, value) in [
            ("accessKey", "A".repeat(129)),
            ("secretKey", "s".repeat(1025)),
            ("sessionToken", "t".repeat(128 * 1024 + 1)),
            ("sessionToken", "abc\r\nx-injected: 1".to_string()),
        ] {
            let mut v: Value = serde_json::from_str(&input(json!({"region": "us-east-1"}), "SYNC")).unwrap();
            v["authentication"][field] = json!(value);
            let mut host = FakeHost::default();
            let e = host.run(|ctx| execute(ctx, &v.to_string())).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{field}");
            assert!(
                e.message().contains(&format!("authentication.{field}")),
                "{}",
                e.message()
            );
            assert!(host.http.requests.is_empty());
        }
    }

    #[test]
    fn poll_interval_has_a_floor_of_one_second() {
        let mut v: Value = serde_json::from_str(&input(json!({"region": "us-east-1"}), "POLLING")).unwrap();
        v["advanced"] = json!({"pollInterval": "PT0.1S"});
        let e = FakeHost::default().run(|ctx| execute(ctx, &v.to_string())).unwrap_err();
        let m = e.message();
        assert!(
            m.contains("advanced.pollInterval") && m.contains("must be at least PT1S"),
            "{m}"
        );
    }

    #[test]
    fn poll_windows_are_bounded() {
        let mut v: Value = serde_json::from_str(&input(json!({"region": "us-east-1"}), "POLLING")).unwrap();
        v["advanced"] = json!({"pollTimeout": "P11574D"});
        let e = FakeHost::default().run(|ctx| execute(ctx, &v.to_string())).unwrap_err();
        assert!(e.message().contains("advanced.pollTimeout"), "{}", e.message());

        // A day's window at the 1 s floor would be 86,400 polls: the count ends it.
        v["advanced"] = json!({"pollTimeout": "P1D", "pollInterval": "PT1S", "maxPollInterval": "PT1S"});
        let started = ok(json!({"JobId": "job-1"}));
        let running = || ok(json!({"JobStatus": "IN_PROGRESS"}));
        let mut answers = vec![started];
        answers.extend((0..4000).map(|_| running()));
        let mut host = FakeHost::answering(answers);
        let e = host.run(|ctx| execute(ctx, &v.to_string())).unwrap_err();
        assert_eq!(e.code(), "PollTimeout");
        assert_eq!(
            host.http.requests.len(),
            1 + crate::execution::polling::MAX_POLLS as usize
        );
    }

    fn fetch_input() -> String {
        json!({
            "authentication": {"type": "credentials", "accessKey": "AKIDEXAMPLE", "secretKey": "secret"},
            "configuration": {"region": "us-east-1"},
            "input": {"executionType": "FETCH", "jobId": "job-1"}
        })
        .to_string()
    }

    #[test]
    fn a_next_token_that_repeats_ends_paging() {
        let page =
            |token: &str| ok(json!({"JobStatus": "SUCCEEDED", "NextToken": token, "Blocks": [{"BlockType": "PAGE"}]}));
        let mut host = FakeHost::answering(vec![page("a"), page("b"), page("a"), page("b"), page("a")]);
        let e = host.run(|ctx| execute(ctx, &fetch_input())).unwrap_err();
        assert_eq!(
            (e.kind(), e.code().as_str(), e.retryable()),
            (ErrorKind::Upstream, "PaginationLoop", false)
        );
        assert_eq!(host.http.requests.len(), 3, "stopped when a token came back");
    }

    #[test]
    fn a_small_response_cannot_grow_into_a_huge_result() {
        // 60,000 empty blocks: 180 KB on the wire, ~15 MB once rendered.
        let blocks = vec![json!({}); 60_000];
        let mut host = FakeHost::answering(vec![ok(json!({"JobStatus": "SUCCEEDED", "Blocks": blocks}))]);
        let e = host.run(|ctx| execute(ctx, &fetch_input())).unwrap_err();
        assert!(e.message().contains("more than 50000 blocks"), "{}", e.message());

        // Under the per-response cap, the result budget of the execution's memory decides.
        let blocks = vec![json!({}); 40_000];
        let mut host = FakeHost::answering(vec![ok(json!({"JobStatus": "SUCCEEDED", "Blocks": blocks}))]);
        host.platform.memory_limit = Some(16 * 1024 * 1024);
        let e = host.run(|ctx| execute(ctx, &fetch_input())).unwrap_err();
        assert_eq!(
            (e.kind(), e.code().as_str()),
            (ErrorKind::InvalidInput, "ResultTooLarge")
        );
        assert!(e.message().contains("advanced.resultS3Bucket"), "{}", e.message());
    }
}
