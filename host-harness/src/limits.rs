//! The limits one execution runs under, and the flag syntax that sets them.
//! Passing a limit ends that execution with a `limit-exceeded` error naming it;
//! other executions and the process are unharmed.

use anyhow::{anyhow, Result};
use std::time::Duration;

/// Per-execution limits. Passing one ends that execution with an error naming it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The guest's linear memory.
    pub max_memory: usize,
    /// Wall-clock time for one execution, waits included.
    pub timeout: Duration,
    /// Outgoing HTTP requests per execution.
    pub max_requests: usize,
    /// The body of any one response.
    pub max_response_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_memory: 512 * 1024 * 1024,
            timeout: Duration::from_secs(15 * 60),
            max_requests: 5000,
            max_response_bytes: 512 * 1024 * 1024,
        }
    }
}

/// Parses `512MiB`, `64MB`, `1GiB`, `1048576`.
pub fn parse_bytes(text: &str) -> Result<usize> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: usize = number
        .parse()
        .map_err(|_| anyhow!("{text:?} is not a size like 512MiB"))?;
    let factor: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return Err(anyhow!("{text:?} has an unknown unit (use KiB, MiB or GiB)")),
    };
    n.checked_mul(factor).ok_or_else(|| anyhow!("{text:?} is too large"))
}

/// Parses `90s`, `15m`, `1h`, `500ms`.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| anyhow!("{text:?} is not a duration like 90s"))?;
    Ok(match unit {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return Err(anyhow!("{text:?} has an unknown unit (use ms, s, m or h)")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse() {
        assert_eq!(parse_bytes("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("64MB").unwrap(), 64_000_000);
        assert_eq!(parse_bytes("1048576").unwrap(), 1 << 20);
        assert!(parse_bytes("lots").is_err());
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
    }
}
