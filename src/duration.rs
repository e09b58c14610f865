//! Durations, shared by every layer: ISO-8601 as BPMN models write them
//! (`PT2S`, `PT1M30S`, `PT0.5S`, `P1D`; years and months have no fixed length
//! and are refused), and the short human form of progress lines and messages.

use std::time::Duration;

pub fn parse(text: &str) -> Option<Duration> {
    let t = text.trim().to_ascii_uppercase();
    let rest = t.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    // Nanoseconds in integers: float parsing would add its tables to the component.
    let mut total: u128 = 0;
    let mut any = false;
    for (part, units) in [
        (date, &[('W', 604_800u128), ('D', 86_400)][..]),
        (time.unwrap_or(""), &[('H', 3600u128), ('M', 60), ('S', 1)][..]),
    ] {
        let mut number = String::new();
        let mut last_unit = 0;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' || c == ',' {
                number.push(if c == ',' { '.' } else { c });
                continue;
            }
            let index = units.iter().position(|(u, _)| *u == c)?;
            if index < last_unit || number.is_empty() {
                return None;
            }
            last_unit = index + 1;
            total = total.checked_add(nanos(&number)?.checked_mul(units[index].1)?)?;
            number.clear();
            any = true;
        }
        if !number.is_empty() {
            return None;
        }
    }
    const LIMIT: u128 = 1_000_000_000 * 1_000_000_000;
    (any && total < LIMIT).then(|| Duration::from_nanos(u64::try_from(total).unwrap_or(u64::MAX)))
}

/// `12.5` → 12,500,000,000 (a count of a unit, in nanoseconds of that unit).
fn nanos(number: &str) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') || whole.len() > 12 {
        return None;
    }
    let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let mut frac: u128 = 0;
    for (i, d) in fraction.bytes().take(9).enumerate() {
        frac += u128::from(d - b'0') * 10u128.pow(8 - i as u32);
    }
    Some(whole * 1_000_000_000 + frac)
}

/// `90s` → `1m30s`, for progress lines and messages. Integer arithmetic only:
/// float formatting would add its tables to the component for one digit.
pub fn human(d: Duration) -> String {
    if d < Duration::from_secs(60) {
        let tenths = d.as_millis() / 100;
        match tenths % 10 {
            0 => format!("{}s", tenths / 10),
            t => format!("{}.{t}s", tenths / 10),
        }
    } else {
        let whole = d.as_secs();
        match whole % 60 {
            0 => format!("{}m", whole / 60),
            s => format!("{}m{s}s", whole / 60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bpmn_durations() {
        assert_eq!(parse("PT2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse("PT1M30S"), Some(Duration::from_secs(90)));
        assert_eq!(parse("pt0.5s"), Some(Duration::from_millis(500)));
        assert_eq!(parse("PT10M"), Some(Duration::from_secs(600)));
        assert_eq!(parse("P1DT1H"), Some(Duration::from_secs(90_000)));
        assert_eq!(parse("PT0S"), Some(Duration::ZERO));
        assert_eq!(parse("PT1.25S"), Some(Duration::from_millis(1250)));
        assert_eq!(parse("PT0,5M"), Some(Duration::from_secs(30)));
        assert_eq!(parse("P11574D"), Some(Duration::from_secs(11574 * 86_400)));
        for bad in [
            "", "P", "PT", "2S", "PT2", "P1M", "PTS", "PT1S2M", "P1Y", "PT.S", "PT1.2.3S", "PT1e400S",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human(Duration::from_secs(2)), "2s");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
        assert_eq!(human(Duration::from_secs(90)), "1m30s");
        assert_eq!(human(Duration::from_secs(600)), "10m");
    }
}
