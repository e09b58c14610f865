//! The Camunda result shape. The Java connector serialises AWS SDK result
//! objects with Jackson, so a BPMN result expression sees camelCase keys in a
//! fixed order, explicit `null`s, 32-bit floats printed as Java prints them, and
//! the response headers sorted case-insensitively. This module writes that JSON
//! directly, in one pass, from the parsed response.

use crate::aws::textract::{Block, DocumentMetadata, HumanLoopActivationOutput, Warning};
use crate::platform::http::HttpResponse;

/// A minimal JSON writer that appends to a `String`.
pub struct JsonOut {
    pub buf: String,
}

impl JsonOut {
    pub fn with_capacity(n: usize) -> Self {
        JsonOut {
            buf: String::with_capacity(n),
        }
    }

    pub fn raw(&mut self, s: &str) {
        self.buf.push_str(s);
    }

    /// Writes `"key":` (keys are fixed ASCII names, no escaping needed).
    pub fn key(&mut self, k: &str) {
        self.buf.push('"');
        self.buf.push_str(k);
        self.buf.push_str("\":");
    }

    pub fn str(&mut self, s: &str) {
        self.buf.reserve(s.len() + 2);
        self.buf.push('"');
        let bytes = s.as_bytes();
        let mut start = 0;
        // Every byte that needs an escape is ASCII, so scanning bytes (not
        // chars) finds them all and cuts only at character boundaries.
        for (i, &b) in bytes.iter().enumerate() {
            if !NEEDS_ESCAPE[usize::from(b)] {
                continue;
            }
            self.buf.push_str(&s[start..i]);
            match b {
                b'"' => self.buf.push_str("\\\""),
                b'\\' => self.buf.push_str("\\\\"),
                b'\n' => self.buf.push_str("\\n"),
                b'\r' => self.buf.push_str("\\r"),
                b'\t' => self.buf.push_str("\\t"),
                _ => {
                    // A control character as \u00XX, without a heap allocation.
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.buf.push_str("\\u00");
                    self.buf.push(char::from(HEX[usize::from(b >> 4)]));
                    self.buf.push(char::from(HEX[usize::from(b & 0xf)]));
                }
            }
            start = i + 1;
        }
        self.buf.push_str(&s[start..]);
        self.buf.push('"');
    }

    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.null(),
        }
    }

    pub fn null(&mut self) {
        self.buf.push_str("null");
    }

    pub fn int(&mut self, n: i64) {
        // itoa writes into a stack buffer: no allocation per number.
        self.buf.push_str(itoa::Buffer::new().format(n));
    }

    pub fn opt_int(&mut self, n: Option<i64>) {
        match n {
            Some(n) => self.int(n),
            None => self.null(),
        }
    }

    pub fn opt_f32(&mut self, f: Option<f32>) {
        match f {
            Some(f) if f.is_finite() => java_float(f, &mut self.buf),
            _ => self.null(),
        }
    }

    pub fn opt_str_list<T: std::ops::Deref<Target = str>>(&mut self, items: Option<&[T]>) {
        match items {
            None => self.null(),
            Some(items) => {
                self.buf.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.buf.push(',');
                    }
                    self.str(item);
                }
                self.buf.push(']');
            }
        }
    }
}

/// The bytes a JSON string cannot carry as they are: `"`, `\` and the control
/// characters. (DEL and U+2028 pass unescaped, as Jackson writes them.)
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Appends `f` as Java's `Float.toString` prints it: the shortest digits that
/// round-trip, plain notation for 1e-3 ≤ |f| < 1e7 (always with a fraction,
/// `1.0`), computerised scientific notation otherwise (`1.5861064E-16`).
pub fn java_float(f: f32, out: &mut String) {
    if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    // Everything on the stack: a result of 1,000 blocks prints ~10,000 floats.
    // zmij (serde_json's own float printer, so no second one in the component)
    // writes the shortest digits that round-trip, as Java does.
    let mut buffer = zmij::Buffer::new();
    let text = buffer.format_finite(f);
    // Inside Java's plain range zmij writes exactly what Java writes (`0.001`,
    // `1234567.0`): nearly every Textract float takes this path. (No `e` there:
    // zmij's own plain range is wider. The tests check this against ryu.)
    if (1e-3..1e7).contains(&f.abs()) {
        out.push_str(text);
        return;
    }
    java_float_rewritten(text.as_bytes(), out);
}

/// `java_float` for what zmij writes differently from Java: scientific notation
/// (`1e-7`, `1.5e+16`) and the plain numbers outside Java's range (`0.0001`).
fn java_float_rewritten(text: &[u8], out: &mut String) {
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (mantissa, exp) = match text.iter().position(|&b| b == b'e') {
        Some(i) => (&text[..i], parse_exp(&text[i + 1..])),
        None => (text, 0),
    };
    // value = 0.DIGITS × 10^point; an f32 has at most 9 significant digits.
    let mut digits = [0u8; 24];
    let mut len = 0usize;
    let mut int_len = 0i32;
    let mut seen_point = false;
    for &b in mantissa {
        if b == b'.' {
            seen_point = true;
        } else if len < digits.len() {
            digits[len] = b;
            len += 1;
            if !seen_point {
                int_len += 1;
            }
        }
    }
    let mut point = int_len + exp;
    let mut start = 0usize;
    while start < len && digits[start] == b'0' {
        start += 1;
        point -= 1;
    }
    while len > start && digits[len - 1] == b'0' {
        len -= 1;
    }
    let digits = &digits[start..len];
    if negative {
        out.push('-');
    }
    let sci_exp = point - 1;
    let push_digits = |out: &mut String, ds: &[u8]| ds.iter().for_each(|d| out.push(*d as char));
    if (-3..7).contains(&sci_exp) {
        if point <= 0 {
            out.push_str("0.");
            (0..-point).for_each(|_| out.push('0'));
            push_digits(out, digits);
        } else if point as usize >= digits.len() {
            push_digits(out, digits);
            (0..point as usize - digits.len()).for_each(|_| out.push('0'));
            out.push_str(".0");
        } else {
            let (whole, frac) = digits.split_at(point as usize);
            push_digits(out, whole);
            out.push('.');
            push_digits(out, frac);
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        push_digits(out, first);
        out.push('.');
        if rest.is_empty() {
            out.push('0');
        } else {
            push_digits(out, rest);
        }
        out.push('E');
        out.push_str(itoa::Buffer::new().format(sci_exp));
    }
}

/// The exponent written after `e` (`-16`, `+7`, `7`).
fn parse_exp(text: &[u8]) -> i32 {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    let value = digits
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0i32, |n, b| n.saturating_mul(10).saturating_add(i32::from(b - b'0')));
    if negative {
        -value
    } else {
        value
    }
}

/// AWS's own spelling of the headers its services send; the wire gives us
/// lower case, the Java SDK showed them as AWS sent them.
fn canonical_header_name(name: &str) -> String {
    const KNOWN: &[&str] = &[
        "Content-Type",
        "Content-Length",
        "Content-Encoding",
        "Connection",
        "Date",
        "Server",
        "ETag",
        "Last-Modified",
        "x-amzn-RequestId",
        "x-amzn-ErrorType",
        "x-amz-request-id",
        "x-amz-id-2",
        "x-amz-version-id",
        "x-amz-apigw-id",
        "X-Amzn-Trace-Id",
    ];
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name))
        .map(|k| k.to_string())
        .unwrap_or_else(|| name.to_string())
}

/// Writes `"sdkResponseMetadata":{...},"sdkHttpMetadata":{...}` for a response.
pub fn write_sdk_metadata(out: &mut JsonOut, response: &HttpResponse) {
    // Group values by name, case-insensitively, in sorted name order.
    let mut grouped: Vec<(String, Vec<&str>)> = Vec::new();
    for (name, value) in &response.headers {
        match grouped.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some((_, values)) => values.push(value),
            None => grouped.push((canonical_header_name(name), vec![value])),
        }
    }
    grouped.sort_by_key(|(n, _)| n.to_ascii_lowercase());

    out.key("sdkResponseMetadata");
    out.raw("{");
    out.key("requestId");
    out.opt_str(response.header("x-amzn-requestid"));
    out.raw("},");
    out.key("sdkHttpMetadata");
    out.raw("{");
    out.key("httpHeaders");
    out.raw("{");
    for (i, (name, values)) in grouped.iter().enumerate() {
        if i > 0 {
            out.raw(",");
        }
        out.str(name);
        out.raw(":");
        out.opt_str(values.first().copied());
    }
    out.raw("},");
    out.key("httpStatusCode");
    out.int(i64::from(response.status));
    out.raw(",");
    out.key("allHttpHeaders");
    out.raw("{");
    for (i, (name, values)) in grouped.iter().enumerate() {
        if i > 0 {
            out.raw(",");
        }
        out.str(name);
        out.raw(":[");
        for (j, v) in values.iter().enumerate() {
            if j > 0 {
                out.raw(",");
            }
            out.str(v);
        }
        out.raw("]");
    }
    out.raw("}}");
}

pub fn write_document_metadata(out: &mut JsonOut, meta: Option<&DocumentMetadata>) {
    out.key("documentMetadata");
    match meta {
        None => out.null(),
        Some(m) => {
            out.raw("{");
            out.key("pages");
            out.opt_int(m.pages);
            out.raw("}");
        }
    }
}

pub fn write_human_loop(out: &mut JsonOut, h: Option<&HumanLoopActivationOutput>) {
    out.key("humanLoopActivationOutput");
    match h {
        None => out.null(),
        Some(h) => {
            out.raw("{");
            out.key("humanLoopArn");
            out.opt_str(h.human_loop_arn.as_deref());
            out.raw(",");
            out.key("humanLoopActivationReasons");
            out.opt_str_list(h.human_loop_activation_reasons.as_deref());
            out.raw(",");
            out.key("humanLoopActivationConditionsEvaluationResults");
            out.opt_str(h.human_loop_activation_conditions_evaluation_results.as_deref());
            out.raw("}");
        }
    }
}

/// Writes `"warnings":[...]` (null when no page carried the field).
pub fn write_warnings(out: &mut JsonOut, warnings: Option<&[Warning]>) {
    out.key("warnings");
    match warnings {
        None => out.null(),
        Some(list) => {
            out.raw("[");
            for (i, w) in list.iter().enumerate() {
                if i > 0 {
                    out.raw(",");
                }
                out.raw("{");
                out.key("errorCode");
                out.opt_str(w.error_code.as_deref());
                out.raw(",");
                out.key("pages");
                match &w.pages {
                    None => out.null(),
                    Some(pages) => {
                        out.raw("[");
                        for (j, p) in pages.iter().enumerate() {
                            if j > 0 {
                                out.raw(",");
                            }
                            out.int(*p);
                        }
                        out.raw("]");
                    }
                }
                out.raw("}");
            }
            out.raw("]");
        }
    }
}

/// Writes the elements of a block list (without the brackets).
pub fn write_blocks(out: &mut JsonOut, blocks: &[Block<'_>], first: bool) {
    for (i, b) in blocks.iter().enumerate() {
        if i > 0 || !first {
            out.raw(",");
        }
        write_block(out, b);
    }
}

fn write_block(out: &mut JsonOut, b: &Block<'_>) {
    out.raw("{");
    out.key("blockType");
    out.opt_str(b.block_type.as_deref());
    out.raw(",");
    out.key("confidence");
    out.opt_f32(b.confidence);
    out.raw(",");
    out.key("text");
    out.opt_str(b.text.as_deref());
    out.raw(",");
    out.key("textType");
    out.opt_str(b.text_type.as_deref());
    out.raw(",");
    out.key("rowIndex");
    out.opt_int(b.row_index);
    out.raw(",");
    out.key("columnIndex");
    out.opt_int(b.column_index);
    out.raw(",");
    out.key("rowSpan");
    out.opt_int(b.row_span);
    out.raw(",");
    out.key("columnSpan");
    out.opt_int(b.column_span);
    out.raw(",");
    out.key("geometry");
    match &b.geometry {
        None => out.null(),
        Some(g) => {
            out.raw("{");
            out.key("boundingBox");
            match &g.bounding_box {
                None => out.null(),
                Some(bb) => {
                    out.raw("{");
                    out.key("width");
                    out.opt_f32(bb.width);
                    out.raw(",");
                    out.key("height");
                    out.opt_f32(bb.height);
                    out.raw(",");
                    out.key("left");
                    out.opt_f32(bb.left);
                    out.raw(",");
                    out.key("top");
                    out.opt_f32(bb.top);
                    out.raw("}");
                }
            }
            out.raw(",");
            out.key("polygon");
            match &g.polygon {
                None => out.null(),
                Some(points) => {
                    out.raw("[");
                    for (i, p) in points.iter().enumerate() {
                        if i > 0 {
                            out.raw(",");
                        }
                        out.raw("{");
                        out.key("x");
                        out.opt_f32(p.x);
                        out.raw(",");
                        out.key("y");
                        out.opt_f32(p.y);
                        out.raw("}");
                    }
                    out.raw("]");
                }
            }
            out.raw("}");
        }
    }
    out.raw(",");
    out.key("id");
    out.opt_str(b.id.as_deref());
    out.raw(",");
    out.key("relationships");
    match &b.relationships {
        None => out.null(),
        Some(rels) => {
            out.raw("[");
            for (i, r) in rels.iter().enumerate() {
                if i > 0 {
                    out.raw(",");
                }
                out.raw("{");
                out.key("type");
                out.opt_str(r.kind.as_deref());
                out.raw(",");
                out.key("ids");
                out.opt_str_list(r.ids.as_deref());
                out.raw("}");
            }
            out.raw("]");
        }
    }
    out.raw(",");
    out.key("entityTypes");
    out.opt_str_list(b.entity_types.as_deref());
    out.raw(",");
    out.key("selectionStatus");
    out.opt_str(b.selection_status.as_deref());
    out.raw(",");
    out.key("page");
    out.opt_int(b.page);
    out.raw(",");
    out.key("query");
    match &b.query {
        None => out.null(),
        Some(q) => {
            out.raw("{");
            out.key("text");
            out.opt_str(q.text.as_deref());
            out.raw(",");
            out.key("alias");
            out.opt_str(q.alias.as_deref());
            out.raw(",");
            out.key("pages");
            out.opt_str_list(q.pages.as_deref());
            out.raw("}");
        }
    }
    out.raw("}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jf(f: f32) -> String {
        let mut s = String::new();
        java_float(f, &mut s);
        s
    }

    #[test]
    fn floats_print_as_java_does() {
        assert_eq!(jf(99.13), "99.13");
        assert_eq!(jf(1.0), "1.0");
        assert_eq!(jf(0.0), "0.0");
        assert_eq!(jf(0.5), "0.5");
        assert_eq!(jf(0.001), "0.001");
        assert_eq!(jf(0.0001), "1.0E-4");
        assert_eq!(jf(1.5861063837740178e-16_f64 as f32), "1.5861064E-16");
        assert_eq!(jf(1234567.0), "1234567.0");
        assert_eq!(jf(12345678.0), "1.2345678E7");
        assert_eq!(jf(-2.5), "-2.5");
        assert_eq!(jf(100.0), "100.0");
        assert_eq!(jf(0.07832936), "0.07832936");
        assert_eq!(jf(f64::from(0.1f32) as f32), "0.1");
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = JsonOut::with_capacity(8);
        out.str("a\"b\\c\nd\u{1}é");
        assert_eq!(out.buf, r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn escapes_next_to_multibyte_characters_keep_them_whole() {
        let mut out = JsonOut::with_capacity(0);
        out.str("é\"€\t😀\u{1f}x\u{7f}\u{2028}");
        assert_eq!(out.buf, "\"é\\\"€\\t😀\\u001fx\u{7f}\u{2028}\"");
        let mut empty = JsonOut::with_capacity(0);
        empty.str("");
        assert_eq!(empty.buf, "\"\"");
    }

    /// zmij's text, shortcut or rewritten, against the same rewrite of ryu's
    /// (an independent shortest-digits printer), over f32s spread across every
    /// exponent, and the edges of Java's plain range.
    #[test]
    fn java_floats_agree_with_the_same_rewrite_of_ryu() {
        let mut checked = 0;
        let edges = [1e-3f32, 1e7, 9_999_999.0, 0.001_000_1, 0.000_999_9, 1.0, 10.0, f32::MAX, f32::MIN_POSITIVE];
        let spread = (1u32..0x7f80_0000).step_by(9_973).map(f32::from_bits);
        for f in edges.into_iter().chain(spread) {
            for f in [f, -f] {
                let (mut ours, mut oracle) = (String::new(), String::new());
                java_float(f, &mut ours);
                java_float_rewritten(ryu::Buffer::new().format_finite(f).as_bytes(), &mut oracle);
                assert_eq!(ours, oracle, "{f:e}");
                checked += 1;
            }
        }
        assert!(checked > 400_000, "{checked}");
    }

    #[test]
    fn headers_are_grouped_sorted_and_cased() {
        let response = HttpResponse {
            status: 200,
            headers: vec![
                ("x-amzn-requestid".into(), "r-1".into()),
                ("content-type".into(), "application/x-amz-json-1.1".into()),
                ("set-cookie".into(), "a".into()),
                ("Set-Cookie".into(), "b".into()),
            ],
            body: vec![],
        };
        let mut out = JsonOut::with_capacity(64);
        write_sdk_metadata(&mut out, &response);
        assert_eq!(
            out.buf,
            r#""sdkResponseMetadata":{"requestId":"r-1"},"sdkHttpMetadata":{"httpHeaders":{"Content-Type":"application/x-amz-json-1.1","set-cookie":"a","x-amzn-RequestId":"r-1"},"httpStatusCode":200,"allHttpHeaders":{"Content-Type":["application/x-amz-json-1.1"],"set-cookie":["a","b"],"x-amzn-RequestId":["r-1"]}}"#
        );
    }
}
