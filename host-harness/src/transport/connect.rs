//! The live sender: connects to an address the egress policy already checked
//! (so DNS cannot answer differently a second time), speaks TLS with the
//! request's host name for SNI and certificate checks, and hands the response
//! body over as a stream, metered against the execution's byte limit, instead
//! of collecting it: the host never holds more of a body than the guest reads.

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

/// The wait for a connection, or for the first byte, when the guest names none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The TLS client configuration (webpki's roots), built once per process.
fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: std::sync::OnceLock<Arc<rustls::ClientConfig>> = std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.into(),
            };
            Arc::new(
                rustls::ClientConfig::builder()
                    .with_root_certificates(roots)
                    .with_no_client_auth(),
            )
        })
        .clone()
}

/// Sends `request` to `addr`; `server_name` is the URI's host (SNI, certificate).
pub async fn send(
    mut request: http::Request<WasiBody>,
    addr: SocketAddr,
    server_name: &str,
    tls: bool,
    options: Option<RequestOptions>,
) -> Result<http::Response<Incoming>, HttpError> {
    let connect_timeout = options.and_then(|o| o.connect_timeout).unwrap_or(DEFAULT_TIMEOUT);
    let first_byte_timeout = options.and_then(|o| o.first_byte_timeout).unwrap_or(DEFAULT_TIMEOUT);
    let tcp = tokio::time::timeout(connect_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| HttpError::ConnectionTimeout)?
        .map_err(HttpError::Connect)?;
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|_| HttpError::HttpRequestUriInvalid)?;
    let handshake = async {
        if tls {
            let name = rustls::pki_types::ServerName::try_from(server_name.trim_matches(['[', ']']).to_string())
                .map_err(|_| HttpError::HttpRequestUriInvalid)?;
            let stream = tokio_rustls::TlsConnector::from(tls_config())
                .connect(name, tcp)
                .await
                .map_err(HttpError::Tls)?;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            Ok::<_, HttpError>(sender)
        } else {
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
            tokio::spawn(conn);
            Ok(sender)
        }
    };
    let mut sender = tokio::time::timeout(connect_timeout, handshake)
        .await
        .map_err(|_| HttpError::ConnectionTimeout)??;
    tokio::time::timeout(first_byte_timeout, sender.send_request(request))
        .await
        .map_err(|_| HttpError::ConnectionReadTimeout)?
        .map_err(HttpError::from)
}

/// A response body passed through to the guest as it arrives, failing once it
/// passes `limit` bytes (and telling `on_limit`), and turning a connection that
/// ends early (a body cut short, a Content-Length never met) into an ordinary
/// stream error the connector retries.
pub struct Metered<F> {
    pub inner: Incoming,
    pub seen: u64,
    pub limit: u64,
    pub on_limit: Option<F>,
}

impl<F: FnOnce() + Unpin> Body for Metered<F> {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.seen += data.len() as u64;
                    if self.seen > self.limit {
                        if let Some(tell) = self.on_limit.take() {
                            tell();
                        }
                        return Poll::Ready(Some(Err(HttpError::HttpResponseBodySize(Some(self.limit)))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(HttpError::from(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}
