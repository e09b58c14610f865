//! ISO-8601 durations as BPMN models write them (`PT2S`, `PT1M30S`, `PT0.5S`,
//! `P1D`). Years and months have no fixed length and are refused.

use std::time::Duration;

pub fn parse(text: &str) -> Option<Duration> {
    let t = text.trim().to_ascii_uppercase();
    let rest = t.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut total = 0f64;
    let mut any = false;
    for (part, units) in [
        (date, &[('W', 604_800.0), ('D', 86_400.0)][..]),
        (time.unwrap_or(""), &[('H', 3600.0), ('M', 60.0), ('S', 1.0)][..]),
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
            total += number.parse::<f64>().ok()? * units[index].1;
            number.clear();
            any = true;
        }
        if !number.is_empty() {
            return None;
        }
    }
    (any && total.is_finite() && total < 1e9).then(|| Duration::from_secs_f64(total))
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
        for bad in ["", "P", "PT", "2S", "PT2", "P1M", "PTS", "PT1S2M", "P1Y"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
