//! The AWS side: SigV4 signing, credentials and the default chain, STS, S3 and
//! Textract on the wire, endpoints, AWS's standard retry mode. It takes plain
//! parameters (region, credentials, endpoint, the document location) and knows
//! nothing of Camunda's variables, validation or result shape, so another
//! connector could use it as it is.

pub mod credentials;
pub mod endpoint;
pub mod retry;
pub mod s3;
pub mod signing;
pub mod sts;
pub mod textract;
pub mod xml;

use credentials::Credentials;
use endpoint::Endpoint;
use retry::RetryPolicy;

/// Where and as whom AWS is called: the plain parameters every service client takes.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub credentials: &'a Credentials,
    pub region: &'a str,
    /// Replaces every service's AWS endpoint when set.
    pub endpoint_override: Option<&'a Endpoint>,
    pub retry: RetryPolicy,
}

impl Target<'_> {
    /// The endpoint for an AWS service, honouring the override.
    pub fn endpoint(&self, service: &str) -> Endpoint {
        match self.endpoint_override {
            Some(e) => e.clone(),
            None => Endpoint::aws(service, self.region),
        }
    }
}
