//! textract-connector: an Amazon Textract connector as a WebAssembly component,
//! compatible with Camunda's `io.camunda:aws-textract:1` task. This file is the
//! WIT glue only; the logic lives in the modules below and runs natively too.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

// The layers, bottom up: `error` and `duration` are used by all; `platform` is
// the seam to the host; `aws` speaks to AWS with plain parameters; `camunda` is
// the connector's contract (input, validation, documents, output); `execution`
// runs a validated task; `execute` is the entry point.
pub mod aws;
pub mod camunda;
pub mod duration;
pub mod error;
pub mod execute;
pub mod execution;
pub mod platform;

pub use execute::execute;
pub use platform::{Context, Platform, RuntimeMode};

#[cfg(target_arch = "wasm32")]
mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "connector",
        with: {
            "wasi:http/types@0.2.12": wasip2::http::types,
            "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
            "wasi:io/poll@0.2.12": wasip2::io::poll,
            "wasi:io/error@0.2.12": wasip2::io::error,
            "wasi:io/streams@0.2.12": wasip2::io::streams,
            "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
            "wasi:clocks/wall-clock@0.2.12": wasip2::clocks::wall_clock,
            "wasi:random/random@0.2.12": wasip2::random::random,
            "wasi:cli/stderr@0.2.12": wasip2::cli::stderr,
        },
    });

    use crate::error::ErrorKind as Kind;
    use crate::platform::documents::{CreateError, DocumentStore, StoreError};
    use textract::connector::document_store::{self, CreateError as WitCreateError, ReadError};

    struct Component;

    /// The runtime's document store, through the `document-store` import.
    struct ImportedStore;

    impl DocumentStore for ImportedStore {
        fn read(
            &mut self,
            store_id: Option<&str>,
            document_id: &str,
            content_hash: Option<&str>,
        ) -> Result<Vec<u8>, StoreError> {
            document_store::read(store_id, document_id, content_hash).map_err(|e| match e {
                ReadError::NotFound => StoreError::NotFound,
                ReadError::Denied(why) => StoreError::Denied(why),
                ReadError::Unavailable(why) => StoreError::Unavailable(why),
            })
        }

        fn create(&mut self, content: &[u8], content_type: &str, file_name: &str) -> Result<String, CreateError> {
            document_store::create(content, content_type, file_name).map_err(|e| match e {
                WitCreateError::Unsupported(why) => CreateError::Unsupported(why),
                WitCreateError::Denied(why) => CreateError::Denied(why),
                WitCreateError::Unavailable(why) => CreateError::Unavailable(why),
            })
        }
    }

    impl Guest for Component {
        fn execute(input: String) -> Result<String, ConnectorError> {
            let mut http = crate::platform::wasi::WasiHttp;
            let mut platform = crate::platform::wasi::WasiPlatform;
            let mut documents = ImportedStore;
            // The runtime says which mode it is in; the input cannot.
            let mode = match textract::connector::runtime::mode() {
                textract::connector::runtime::RuntimeMode::Saas => crate::platform::RuntimeMode::Saas,
                textract::connector::runtime::RuntimeMode::SelfManaged => crate::platform::RuntimeMode::SelfManaged,
            };
            let mut ctx = crate::Context {
                http: &mut http,
                platform: &mut platform,
                documents: &mut documents,
                mode,
            };
            crate::execute::execute(&mut ctx, &input).map_err(|e| ConnectorError {
                kind: match e.kind() {
                    Kind::InvalidInput => ErrorKind::InvalidInput,
                    Kind::Unauthorized => ErrorKind::Unauthorized,
                    Kind::Throttled => ErrorKind::Throttled,
                    Kind::Upstream => ErrorKind::Upstream,
                    Kind::Internal => ErrorKind::Internal,
                },
                code: e.code(),
                message: e.message(),
                retryable: e.retryable(),
            })
        }
    }

    export!(Component);
}
