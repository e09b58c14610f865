//! Amazon Textract over AWS JSON 1.1: the wire types of the operations the
//! connector uses, and one function that builds, signs and sends a call and
//! turns an error response into a typed [`Error`].

use super::endpoint::Endpoint;
use super::Target;
use crate::aws::signing::{self, Profile, Scope};
use crate::aws::xml;
use crate::error::{AwsError, Error, Result};
use crate::platform::http::{HttpRequest, HttpResponse};
use crate::platform::Context;
use serde::de::Visitor;
use serde::{Deserialize, Deserializer, Serialize};
use std::borrow::Cow;

pub const SERVICE: &str = "textract";

/// The unsigned request for one Textract operation.
pub fn build_request(endpoint: &Endpoint, operation: &str, body: Vec<u8>) -> HttpRequest {
    HttpRequest {
        method: "POST",
        url: endpoint.url("/"),
        headers: vec![
            ("content-type".into(), "application/x-amz-json-1.1".into()),
            ("x-amz-target".into(), format!("Textract.{operation}")),
            ("content-length".into(), body.len().to_string()),
        ],
        body,
        timeout: None,
    }
}

/// Sends one signed Textract call and returns the successful response.
pub fn call(ctx: &mut Context<'_>, target: &Target<'_>, operation: &str, body: Vec<u8>) -> Result<HttpResponse> {
    let mut request = build_request(&target.endpoint(SERVICE), operation, body);
    signing::sign(
        &mut request,
        target.credentials,
        Scope {
            region: target.region,
            service: SERVICE,
            time: ctx.platform.now(),
            profile: Profile::Standard,
        },
    )?;
    let response = ctx.http.send(&request)?;
    if response.is_success() {
        Ok(response)
    } else {
        Err(Error::Aws(parse_error(&response)))
    }
}

/// Reads an AWS JSON error: the code from `__type` (or `x-amzn-ErrorType`)
/// without its `namespace#` prefix or `:...` suffix, the message from
/// `message` or `Message`. A body that is not JSON still yields a typed error.
pub fn parse_error(response: &HttpResponse) -> AwsError {
    #[derive(Deserialize, Default)]
    struct Body {
        #[serde(rename = "__type", default)]
        kind: Option<String>,
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        message: Option<String>,
        #[serde(rename = "Message", default)]
        message_upper: Option<String>,
    }
    let mut body: Body = serde_json::from_slice(&response.body).unwrap_or_default();
    if body.kind.is_none() && body.code.is_none() {
        // Not AWS JSON: perhaps an XML answer from a front door (auth, proxy).
        let text = String::from_utf8_lossy(&response.body);
        body.code = xml::element_text(&text, "Code");
        body.message = body.message.or_else(|| xml::element_text(&text, "Message"));
    }
    let raw_code = response
        .header("x-amzn-errortype")
        .map(str::to_string)
        .or(body.kind)
        .or(body.code)
        .unwrap_or_default();
    // Only a real AWS error's own message is passed on; a body that is not one
    // (a proxy's page, another service's answer) is never echoed to the tenant.
    let message = body.message.or(body.message_upper).unwrap_or_default();
    AwsError {
        service: SERVICE,
        status: response.status,
        code: clean_code(&raw_code),
        message,
        request_id: response.header("x-amzn-requestid").map(str::to_string),
    }
}

/// `com.amazonaws.textract#ThrottlingException:http://...` → `ThrottlingException`.
pub fn clean_code(raw: &str) -> String {
    let without_suffix = raw.split(':').next().unwrap_or(raw);
    let code = without_suffix.rsplit('#').next().unwrap_or(without_suffix);
    code.trim().to_string()
}

// ---- requests -------------------------------------------------------------

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct S3Object<'a> {
    pub bucket: &'a str,
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<&'a str>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub enum DocumentInput<'a> {
    S3Object(S3Object<'a>),
    /// Base64 of the document's bytes, as AWS JSON encodes blobs.
    Bytes(String),
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct QueryInput<'a> {
    pub text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages: Option<&'a [String]>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct QueriesConfig<'a> {
    pub queries: Vec<QueryInput<'a>>,
}

impl<'a> QueriesConfig<'a> {
    /// The config for these queries; `None` (no QueriesConfig at all) when there are none.
    pub fn from_queries(queries: Vec<QueryInput<'a>>) -> Option<Self> {
        (!queries.is_empty()).then_some(QueriesConfig { queries })
    }
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct AnalyzeDocumentRequest<'a> {
    pub document: DocumentInput<'a>,
    pub feature_types: &'a [&'a str],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queries_config: Option<QueriesConfig<'a>>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct DocumentLocation<'a> {
    pub s3_object: S3Object<'a>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct NotificationChannel<'a> {
    #[serde(rename = "SNSTopicArn")]
    pub sns_topic_arn: &'a str,
    #[serde(rename = "RoleArn")]
    pub role_arn: &'a str,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct OutputConfig<'a> {
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: &'a str,
    #[serde(rename = "S3Prefix", skip_serializing_if = "Option::is_none")]
    pub s3_prefix: Option<&'a str>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct StartDocumentAnalysisRequest<'a> {
    pub document_location: DocumentLocation<'a>,
    pub feature_types: &'a [&'a str],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queries_config: Option<QueriesConfig<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_request_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_tag: Option<&'a str>,
    #[serde(rename = "KMSKeyId", skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_channel: Option<NotificationChannel<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_config: Option<OutputConfig<'a>>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct GetDocumentAnalysisRequest<'a> {
    pub job_id: &'a str,
    pub max_results: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<&'a str>,
}

// ---- responses ------------------------------------------------------------

/// A string of a response, borrowed from the body when it has no escapes (the
/// common case): a 1,000-block page then parses without a copy of every id and word.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text<'a>(pub Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Borrowing;
        impl<'de> Visitor<'de> for Borrowing {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> std::result::Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_str(Borrowing).map(Text)
    }
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct StartDocumentAnalysisResponse {
    #[serde(default)]
    pub job_id: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct GetDocumentAnalysisResponse<'a> {
    #[serde(default)]
    pub document_metadata: Option<DocumentMetadata>,
    #[serde(default)]
    pub job_status: Option<String>,
    #[serde(default)]
    pub next_token: Option<String>,
    #[serde(default, borrow, deserialize_with = "capped_blocks")]
    pub blocks: Option<Vec<Block<'a>>>,
    #[serde(default)]
    pub warnings: Option<Vec<Warning>>,
    #[serde(default)]
    pub status_message: Option<String>,
    #[serde(default)]
    pub analyze_document_model_version: Option<String>,
}

#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Warning {
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub pages: Option<Vec<i64>>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct AnalyzeDocumentResponse<'a> {
    #[serde(default)]
    pub document_metadata: Option<DocumentMetadata>,
    #[serde(default, borrow, deserialize_with = "capped_blocks")]
    pub blocks: Option<Vec<Block<'a>>>,
    #[serde(default)]
    pub human_loop_activation_output: Option<HumanLoopActivationOutput>,
    #[serde(default)]
    pub analyze_document_model_version: Option<String>,
}

#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct DocumentMetadata {
    #[serde(default, deserialize_with = "lenient_pages")]
    pub pages: Option<i64>,
}

/// The most blocks one response may carry. GetDocumentAnalysis pages hold at
/// most 1,000 and a real one-page AnalyzeDocument a few thousand; a body of
/// empty blocks (`{},{},...`) would otherwise grow ~80-fold once parsed and
/// rendered, so a hostile answer is refused while it is still small.
pub const MAX_BLOCKS_PER_RESPONSE: usize = 50_000;

fn capped_blocks<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Vec<Block<'a>>>, D::Error> {
    struct Capped<'a>(std::marker::PhantomData<&'a ()>);
    impl<'de: 'a, 'a> Visitor<'de> for Capped<'a> {
        type Value = Option<Vec<Block<'a>>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of blocks")
        }
        fn visit_none<E>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
            d.deserialize_seq(self)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Self::Value, A::Error> {
            let mut blocks = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(block) = seq.next_element::<Block<'a>>()? {
                if blocks.len() == MAX_BLOCKS_PER_RESPONSE {
                    return Err(serde::de::Error::custom(format!(
                        "more than {MAX_BLOCKS_PER_RESPONSE} blocks in one response"
                    )));
                }
                blocks.push(block);
            }
            Ok(Some(blocks))
        }
    }
    d.deserialize_option(Capped(std::marker::PhantomData))
}

/// `Pages` is a number on AWS; some local peers (moto) send `{"Pages": n}`.
/// Both are read as the number; anything else as absent.
fn lenient_pages<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<i64>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(match value {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::Object(map) => map.get("Pages").and_then(serde_json::Value::as_i64),
        _ => None,
    })
}

#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HumanLoopActivationOutput {
    #[serde(default)]
    pub human_loop_arn: Option<String>,
    #[serde(default)]
    pub human_loop_activation_reasons: Option<Vec<String>>,
    /// A JSON document that AWS sends as a string.
    #[serde(default)]
    pub human_loop_activation_conditions_evaluation_results: Option<String>,
}

/// One Textract block. Types are strings so that new block, entity and
/// relationship types pass through unchanged.
#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Block<'a> {
    #[serde(default, borrow)]
    pub block_type: Option<Text<'a>>,
    #[serde(default)]
    pub confidence: Option<f32>,
    #[serde(default, borrow)]
    pub text: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub text_type: Option<Text<'a>>,
    #[serde(default)]
    pub row_index: Option<i64>,
    #[serde(default)]
    pub column_index: Option<i64>,
    #[serde(default)]
    pub row_span: Option<i64>,
    #[serde(default)]
    pub column_span: Option<i64>,
    #[serde(default)]
    pub geometry: Option<Geometry>,
    #[serde(default, borrow)]
    pub id: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub relationships: Option<Vec<Relationship<'a>>>,
    #[serde(default, borrow)]
    pub entity_types: Option<Vec<Text<'a>>>,
    #[serde(default, borrow)]
    pub selection_status: Option<Text<'a>>,
    #[serde(default)]
    pub page: Option<i64>,
    #[serde(default, borrow)]
    pub query: Option<Query<'a>>,
}

#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Geometry {
    #[serde(default)]
    pub bounding_box: Option<BoundingBox>,
    #[serde(default)]
    pub polygon: Option<Vec<Point>>,
}

#[derive(Deserialize, Debug, Default, Clone, Copy, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct BoundingBox {
    #[serde(default)]
    pub width: Option<f32>,
    #[serde(default)]
    pub height: Option<f32>,
    #[serde(default)]
    pub left: Option<f32>,
    #[serde(default)]
    pub top: Option<f32>,
}

#[derive(Deserialize, Debug, Default, Clone, Copy, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Point {
    #[serde(default)]
    pub x: Option<f32>,
    #[serde(default)]
    pub y: Option<f32>,
}

#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Relationship<'a> {
    #[serde(default, rename = "Type", borrow)]
    pub kind: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub ids: Option<Vec<Text<'a>>>,
}

#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Query<'a> {
    #[serde(default, borrow)]
    pub text: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub alias: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub pages: Option<Vec<Text<'a>>>,
}

/// Parses a successful response body, whatever its Content-Type says.
pub fn parse_body<'a, T: Deserialize<'a>>(operation: &str, body: &'a [u8]) -> Result<T> {
    let invalid =
        |why: String| Error::UnexpectedResponse(format!("the {operation} response is not valid Textract JSON ({why})"));
    // One UTF-8 check up front, then `from_str`, which skips the per-string
    // checks `from_slice` makes: measurably faster in the component.
    let text = std::str::from_utf8(body).map_err(|e| invalid(e.to_string()))?;
    serde_json::from_str(text).map_err(|e| invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn error_codes_are_cleaned() {
        assert_eq!(
            clean_code("com.amazonaws.textract#ThrottlingException"),
            "ThrottlingException"
        );
        assert_eq!(
            clean_code("AccessDeniedException:http://internal.amazon.com/"),
            "AccessDeniedException"
        );
        let e = parse_error(&response(
            400,
            &[("x-amzn-RequestId", "r1")],
            r#"{"__type":"ns#InvalidParameterException","Message":"Bad"}"#,
        ));
        assert_eq!(
            (e.code.as_str(), e.message.as_str(), e.request_id.as_deref()),
            ("InvalidParameterException", "Bad", Some("r1"))
        );
        let e = parse_error(&response(
            403,
            &[],
            "<ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message></Error></Errors></ErrorResponse>",
        ));
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            (
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match"
            )
        );
        let e = parse_error(&response(503, &[], "<html>Service Unavailable</html>"));
        assert_eq!((e.status, e.code.as_str()), (503, ""));
        // A body that is not an AWS error is never echoed to the tenant.
        assert_eq!(e.message, "");
    }

    #[test]
    fn pages_tolerates_moto_shape() {
        let a: DocumentMetadata = serde_json::from_str(r#"{"Pages":3}"#).unwrap();
        let b: DocumentMetadata = serde_json::from_str(r#"{"Pages":{"Pages":3}}"#).unwrap();
        assert_eq!(a.pages, Some(3));
        assert_eq!(b.pages, Some(3));
    }

    #[test]
    fn analyze_request_shape() {
        let req = AnalyzeDocumentRequest {
            document: DocumentInput::S3Object(S3Object {
                bucket: "b",
                name: "k",
                version: None,
            }),
            feature_types: &["TABLES", "QUERIES"],
            queries_config: QueriesConfig::from_queries(vec![QueryInput {
                text: "Who?",
                alias: None,
                pages: None,
            }]),
        };
        assert_eq!(
            serde_json::to_string(&req).unwrap(),
            r#"{"Document":{"S3Object":{"Bucket":"b","Name":"k"}},"FeatureTypes":["TABLES","QUERIES"],"QueriesConfig":{"Queries":[{"Text":"Who?"}]}}"#
        );
        let pages = vec!["1".to_string(), "3-*".to_string()];
        let config = QueriesConfig::from_queries(vec![QueryInput {
            text: "Gross pay?",
            alias: Some("gross"),
            pages: Some(&pages),
        }]);
        assert_eq!(
            serde_json::to_string(&config).unwrap(),
            r#"{"Queries":[{"Text":"Gross pay?","Alias":"gross","Pages":["1","3-*"]}]}"#
        );
        assert_eq!(QueriesConfig::from_queries(vec![]), None);
    }
}
