"""An independent model of the Camunda result shape, used to write the expected
results of scenarios. It shares no code with the connector (Rust): the float
formatting, header grouping and block mapping are written again here from the
contract, so a bug would have to be made twice, in two languages, to pass.
"""

import json
import struct


def f32(x):
    """Rounds a JSON number to the nearest 32-bit float, as the Java SDK reads it."""
    return struct.unpack("<f", struct.pack("<f", float(x)))[0]


def shortest_digits(v):
    """The shortest decimal (digits, exponent) that reads back as the same f32."""
    for precision in range(1, 10):
        text = "%.*e" % (precision - 1, v)
        if f32(float(text)) == v:
            mantissa, exp = text.split("e")
            return mantissa.replace(".", "").lstrip("-"), int(exp)
    raise ValueError(v)


def java_float(x):
    """Float.toString of the f32 nearest to x, as a JSON number token."""
    v = f32(x)
    if v == 0:
        return "-0.0" if str(v).startswith("-") else "0.0"
    sign = "-" if v < 0 else ""
    digits, exp = shortest_digits(abs(v))
    digits = digits.rstrip("0") or "0"
    if -3 <= exp < 7:
        point = exp + 1  # digits before the decimal point
        if point <= 0:
            return sign + "0." + "0" * (-point) + digits
        if point >= len(digits):
            return sign + digits + "0" * (point - len(digits)) + ".0"
        return sign + digits[:point] + "." + digits[point:]
    rest = digits[1:] or "0"
    return "%s%s.%sE%d" % (sign, digits[0], rest, exp)


class Raw(str):
    """A pre-rendered JSON number token."""


def render(value):
    """JSON text with Raw tokens kept verbatim and key order preserved."""
    if isinstance(value, Raw):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(render(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k) + ":" + render(v) for k, v in value.items()) + "}"
    raise TypeError(type(value))


AWS_HEADER_SPELLING = {
    name.lower(): name
    for name in [
        "Content-Type", "Content-Length", "Content-Encoding", "Connection", "Date", "Server",
        "ETag", "Last-Modified", "x-amzn-RequestId", "x-amzn-ErrorType", "x-amz-request-id",
        "x-amz-id-2", "x-amz-version-id", "x-amz-apigw-id", "X-Amzn-Trace-Id",
    ]
}


def sdk_metadata(status, headers):
    """`headers` is a list of (name, value) as sent on the wire."""
    grouped = {}
    for name, value in headers:
        key = name.lower()
        grouped.setdefault(key, (AWS_HEADER_SPELLING.get(key, name), []))[1].append(value)
    ordered = [grouped[k] for k in sorted(grouped)]
    request_id = grouped.get("x-amzn-requestid", (None, [None]))[1][0]
    return {
        "sdkResponseMetadata": {"requestId": request_id},
        "sdkHttpMetadata": {
            "httpHeaders": {name: values[0] for name, values in ordered},
            "httpStatusCode": status,
            "allHttpHeaders": {name: list(values) for name, values in ordered},
        },
    }


def opt_float(x):
    return None if x is None else Raw(java_float(x))


def block(b):
    g = b.get("Geometry")
    geometry = None
    if g is not None:
        bb = g.get("BoundingBox")
        poly = g.get("Polygon")
        geometry = {
            "boundingBox": None if bb is None else {
                "width": opt_float(bb.get("Width")),
                "height": opt_float(bb.get("Height")),
                "left": opt_float(bb.get("Left")),
                "top": opt_float(bb.get("Top")),
            },
            "polygon": None if poly is None else [{"x": opt_float(p.get("X")), "y": opt_float(p.get("Y"))} for p in poly],
        }
    rels = b.get("Relationships")
    q = b.get("Query")
    return {
        "blockType": b.get("BlockType"),
        "confidence": opt_float(b.get("Confidence")),
        "text": b.get("Text"),
        "textType": b.get("TextType"),
        "rowIndex": b.get("RowIndex"),
        "columnIndex": b.get("ColumnIndex"),
        "rowSpan": b.get("RowSpan"),
        "columnSpan": b.get("ColumnSpan"),
        "geometry": geometry,
        "id": b.get("Id"),
        "relationships": None if rels is None else [{"type": r.get("Type"), "ids": r.get("Ids")} for r in rels],
        "entityTypes": b.get("EntityTypes"),
        "selectionStatus": b.get("SelectionStatus"),
        "page": b.get("Page"),
        "query": None if q is None else {"text": q.get("Text"), "alias": q.get("Alias"), "pages": q.get("Pages")},
    }


def pages(meta):
    if meta is None:
        return None
    p = meta.get("Pages")
    if isinstance(p, dict):
        p = p.get("Pages")
    return {"pages": p}


def sync_result(status, headers, body):
    """The SYNC (AnalyzeDocument) result."""
    out = sdk_metadata(status, headers)
    blocks = body.get("Blocks")
    h = body.get("HumanLoopActivationOutput")
    out.update({
        "documentMetadata": pages(body.get("DocumentMetadata")),
        "blocks": None if blocks is None else [block(b) for b in blocks],
        "humanLoopActivationOutput": None if h is None else {
            "humanLoopArn": h.get("HumanLoopArn"),
            "humanLoopActivationReasons": h.get("HumanLoopActivationReasons"),
            "humanLoopActivationConditionsEvaluationResults": h.get("HumanLoopActivationConditionsEvaluationResults"),
        },
        "analyzeDocumentModelVersion": body.get("AnalyzeDocumentModelVersion"),
    })
    return out


def polling_result(status, headers, pages_bodies):
    """The POLLING (and FETCH) result: the last page's fields, every page's
    blocks in order, and every page's warnings (exact repeats once)."""
    last = pages_bodies[-1]
    blocks, warnings, any_warnings = [], [], False
    for body in pages_bodies:
        blocks.extend(block(b) for b in body.get("Blocks") or [])
        if "Warnings" in body:
            any_warnings = True
            for w in body["Warnings"]:
                shaped = {"errorCode": w.get("ErrorCode"), "pages": w.get("Pages")}
                if shaped not in warnings:
                    warnings.append(shaped)
    meta = next((b.get("DocumentMetadata") for b in reversed(pages_bodies) if b.get("DocumentMetadata")), None)
    status_value = next((b.get("JobStatus") for b in reversed(pages_bodies) if b.get("JobStatus")), None)
    model = next((b.get("AnalyzeDocumentModelVersion") for b in reversed(pages_bodies)
                  if b.get("AnalyzeDocumentModelVersion")), None)
    out = sdk_metadata(status, headers)
    out.update({
        "documentMetadata": pages(meta),
        "jobStatus": status_value,
        "nextToken": None,
        "blocks": blocks,
        "warnings": warnings if any_warnings else None,
        "statusMessage": last.get("StatusMessage"),
        "analyzeDocumentModelVersion": model,
    })
    return out


def async_result(status, headers, job_id):
    out = sdk_metadata(status, headers)
    out["jobId"] = job_id
    return out


if __name__ == "__main__":
    # Self-check against values printed by Java's Float.toString.
    for x, want in [(99.13, "99.13"), (1.0, "1.0"), (0.0001, "1.0E-4"), (1.5861063837740178e-16, "1.5861064E-16"),
                    (12345678.0, "1.2345678E7"), (91.144775390625, "91.144775"), (0.001, "0.001"), (100, "100.0")]:
        assert java_float(x) == want, (x, java_float(x), want)
    print("ok")
