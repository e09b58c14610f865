//! Retries inside the component, as AWS's standard retry mode does them:
//! throttling codes, HTTP 500/502/503/504 and connection failures are tried
//! again, up to 3 attempts by default, after an exponential backoff with full
//! jitter. Validation and access errors are never retried. After the last
//! attempt the error keeps the type of the last failure.

use crate::error::{Error, Result};
use crate::platform::Context;
use std::time::Duration;

pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// AWS standard mode: base delay 1 s, doubled per attempt, capped at 20 s.
const BASE_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }
}

/// Whether AWS's standard mode retries this failure. Unlike [`Error::retryable`]
/// (may *the runtime* retry the task later?), an egress refusal or a 501 is final here.
fn transient(e: &Error) -> bool {
    match e {
        Error::Transport { .. } => true,
        Error::Aws(_) => e.retryable(),
        _ => false,
    }
}

/// Runs `call` until it succeeds, fails for good, or runs out of attempts.
/// `what` names the operation in progress lines.
pub fn run<T>(
    ctx: &mut Context<'_>,
    policy: RetryPolicy,
    what: &str,
    mut call: impl FnMut(&mut Context<'_>) -> Result<T>,
) -> Result<T> {
    let attempts = policy.max_attempts.max(1);
    let mut attempt = 1;
    loop {
        match call(ctx) {
            Ok(value) => return Ok(value),
            Err(e) if transient(&e) && attempt < attempts => {
                let delay = backoff(ctx, attempt);
                ctx.platform.progress(&format!(
                    "textract: {what} failed ({}), attempt {attempt} of {attempts}; retrying in {}",
                    e.code(),
                    crate::duration::human(delay)
                ));
                ctx.platform.sleep(delay);
                attempt += 1;
            }
            Err(e) if transient(&e) && attempts > 1 => return Err(gave_up(e, attempts)),
            Err(e) => return Err(e),
        }
    }
}

/// Full jitter: a uniform delay between 0 and min(20 s, 1 s × 2^(attempt-1)).
fn backoff(ctx: &mut Context<'_>, attempt: u32) -> Duration {
    let ceiling = BASE_DELAY.saturating_mul(1 << (attempt - 1).min(16)).min(MAX_DELAY);
    let fraction = (ctx.platform.random_u64() >> 11) as f64 / (1u64 << 53) as f64;
    ceiling.mul_f64(fraction)
}

/// The last failure, typed as it was, saying that retries ran out.
fn gave_up(e: Error, attempts: u32) -> Error {
    let add_note = |message: &str| {
        let base = message.trim_end_matches('.');
        if base.is_empty() {
            format!("gave up after {attempts} attempts")
        } else {
            format!("{base}. Gave up after {attempts} attempts")
        }
    };
    match e {
        Error::Aws(mut aws) => {
            aws.message = add_note(&aws.message);
            Error::Aws(aws)
        }
        Error::Transport { code, message } => Error::Transport {
            code,
            message: format!("{}.", add_note(&message)),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::aws;
    use crate::platform::fake::{FakeHost, FakePlatform};

    fn run_script(script: Vec<Result<u32>>) -> (Result<u32>, FakePlatform, usize) {
        let mut host = FakeHost::default();
        let mut script = script.into_iter();
        let mut calls = 0;
        let result = host.run(|ctx| {
            run(ctx, RetryPolicy::default(), "Op", |_| {
                calls += 1;
                script.next().unwrap_or(Ok(0))
            })
        });
        (result, host.platform, calls)
    }

    #[test]
    fn transient_failures_are_retried_with_growing_jittered_backoff() {
        let (result, platform, calls) =
            run_script(vec![Err(aws(400, "ThrottlingException")), Err(aws(503, "")), Ok(7)]);
        assert_eq!(result.unwrap(), 7);
        assert_eq!(calls, 3);
        assert_eq!(platform.sleeps.len(), 2);
        assert!(platform.sleeps[0] <= Duration::from_secs(1) && platform.sleeps[1] <= Duration::from_secs(2));
        assert_eq!(platform.lines.len(), 2);
    }

    #[test]
    fn access_and_validation_errors_are_not_retried() {
        for e in [
            aws(400, "AccessDeniedException"),
            aws(400, "InvalidParameterException"),
            aws(501, ""),
        ] {
            let (result, platform, calls) = run_script(vec![Err(e.clone()), Ok(1)]);
            assert_eq!(result.unwrap_err(), e);
            assert_eq!((calls, platform.sleeps.len()), (1, 0));
        }
    }

    #[test]
    fn exhausted_retries_keep_the_last_failure_type() {
        let (result, _, calls) = run_script(vec![
            Err(aws(503, "")),
            Err(aws(500, "InternalServerError")),
            Err(aws(400, "ThrottlingException")),
        ]);
        let e = result.unwrap_err();
        assert_eq!(calls, 3);
        assert_eq!(
            (e.code().as_str(), e.kind()),
            ("ThrottlingException", crate::error::ErrorKind::Throttled)
        );
        assert!(e.message().contains("Gave up after 3 attempts."), "{}", e.message());
    }
}
