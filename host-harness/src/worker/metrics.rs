//! What an operator scrapes: Prometheus text at `/metrics` (jobs activated,
//! completed, failed by tenant and error kind, an execution-duration histogram,
//! executions in flight) and `/health`, which answers 200 once the cluster has
//! answered. The `prometheus-client` crate writes the exposition format.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabel {
    pub tenant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    pub tenant: String,
    pub kind: String,
}

pub struct Metrics {
    registry: Registry,
    pub activated: Family<TenantLabel, Counter>,
    pub completed: Family<TenantLabel, Counter>,
    pub failed: Family<FailureLabels, Counter>,
    pub duration: Histogram,
    pub in_flight: Gauge,
    /// The cluster has answered at least once.
    pub healthy: AtomicBool,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("textract_worker");
        let activated = Family::<TenantLabel, Counter>::default();
        let completed = Family::<TenantLabel, Counter>::default();
        let failed = Family::<FailureLabels, Counter>::default();
        // 10 ms to about 20 minutes: a SYNC call to a long POLLING job.
        let duration = Histogram::new([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1200.0]);
        let in_flight = Gauge::default();
        registry.register("jobs_activated", "Jobs taken from the cluster", activated.clone());
        registry.register("jobs_completed", "Jobs completed", completed.clone());
        registry.register(
            "jobs_failed",
            "Jobs failed or ended with a BPMN error, by the execution's error kind",
            failed.clone(),
        );
        registry.register(
            "execution_duration_seconds",
            "Wall-clock time of one connector execution",
            duration.clone(),
        );
        registry.register("executions_in_flight", "Connector executions running now", in_flight.clone());
        Arc::new(Metrics {
            registry,
            activated,
            completed,
            failed,
            duration,
            in_flight,
            healthy: AtomicBool::new(false),
        })
    }

    pub fn tenant(tenant: &str) -> TenantLabel {
        TenantLabel {
            tenant: tenant.to_string(),
        }
    }

    pub fn failure(tenant: &str, kind: &str) -> FailureLabels {
        FailureLabels {
            tenant: tenant.to_string(),
            kind: kind.to_string(),
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// Serves `/metrics` and `/health` on `listener` until the process ends.
    pub async fn serve(self: Arc<Self>, listener: tokio::net::TcpListener) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let metrics = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let metrics = metrics.clone();
                    async move { Ok::<_, std::convert::Infallible>(metrics.answer(request.method(), request.uri().path())) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    fn answer(&self, method: &hyper::Method, path: &str) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
        let (status, content_type, body) = match (method.as_str(), path) {
            ("GET", "/metrics") => (
                200,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                self.render(),
            ),
            ("GET", "/health") if self.healthy.load(Ordering::Relaxed) => (200, "text/plain", "ok\n".to_string()),
            ("GET", "/health") => (503, "text/plain", "the cluster has not answered yet\n".to_string()),
            _ => (404, "text/plain", "not found\n".to_string()),
        };
        let mut response = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from(body)));
        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
        if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
            response.headers_mut().insert(hyper::header::CONTENT_TYPE, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_every_series() {
        let m = Metrics::new();
        m.activated.get_or_create(&Metrics::tenant("tenant-a")).inc();
        m.failed.get_or_create(&Metrics::failure("tenant-a", "throttled")).inc();
        m.duration.observe(0.2);
        let text = m.render();
        for line in [
            "textract_worker_jobs_activated_total{tenant=\"tenant-a\"} 1",
            "textract_worker_jobs_failed_total{tenant=\"tenant-a\",kind=\"throttled\"} 1",
            "textract_worker_execution_duration_seconds_count 1",
            "textract_worker_executions_in_flight 0",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
