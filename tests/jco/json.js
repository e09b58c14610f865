// JSON as the harness's serde_json (with `preserve_order`) reads and writes it, so the
// stand-in serves a cassette's bodies byte for byte as `textract-host` does:
// objects keep their key order (a Map, so "1" is not moved first), integers stay
// exact (BigInt), and floats are printed the way serde_json (ryu) prints an f64.

/** A parsed JSON number: `int` (a BigInt that fits u64/i64) or `float` (an f64). */
export class Num {
  constructor(kind, value) {
    this.kind = kind;
    this.value = value;
  }
}

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);

function number(raw) {
  if (!/[.eE]/.test(raw)) {
    const big = BigInt(raw);
    if (big >= I64_MIN && big <= U64_MAX) return new Num("int", big);
  }
  return new Num("float", Number(raw));
}

/** Parses JSON text into Maps, arrays, strings, booleans, null and Num. Throws on bad input. */
export function parse(text) {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const fail = (what) => {
    throw new SyntaxError(`${what} at offset ${i}`);
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const map = new Map();
      ws();
      if (text[i] === "}") {
        i++;
        return map;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expected a key");
        const key = string();
        ws();
        if (text[i++] !== ":") fail("expected ':'");
        map.set(key, value());
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i++] === "}") return map;
        fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const list = [];
      ws();
      if (text[i] === "]") {
        i++;
        return list;
      }
      for (;;) {
        list.push(value());
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i++] === "]") return list;
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [["true", true], ["false", false], ["null", null]]) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) fail("unexpected character");
    i += m[0].length;
    return number(m[0]);
  };
  const string = () => {
    const start = i;
    i++;
    for (;;) {
      const c = text[i];
      if (c === undefined) fail("unterminated string");
      if (c === '"') break;
      if (c === "\\") i++;
      else if (c < " ") fail("control character in string");
      i++;
    }
    i++;
    return JSON.parse(text.slice(start, i));
  };
  const v = value();
  ws();
  if (i !== text.length) fail("trailing characters");
  return v;
}

/** An f64 as ryu (serde_json) prints it: shortest digits, `1.0`, `1e16`, `1e-7`. */
export function formatF64(x) {
  if (!Number.isFinite(x)) return "null";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  const [mantissa, exp] = Math.abs(x).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const length = digits.length;
  const kk = Number(exp) + 1; // where the decimal point goes
  const k = kk - length;
  let out;
  if (k >= 0 && kk <= 16) out = digits + "0".repeat(k) + ".0";
  else if (kk > 0 && kk <= 16) out = digits.slice(0, kk) + "." + digits.slice(kk);
  else if (kk > -5 && kk <= 0) out = "0." + "0".repeat(-kk) + digits;
  else if (length === 1) out = digits + "e" + (kk - 1);
  else out = digits[0] + "." + digits.slice(1) + "e" + (kk - 1);
  return sign + out;
}

/** Compact JSON, as serde_json::to_vec writes a Value. */
export function stringify(v) {
  if (v === null) return "null";
  if (typeof v === "boolean") return String(v);
  if (typeof v === "string") return JSON.stringify(v);
  if (v instanceof Num) return v.kind === "int" ? v.value.toString() : formatF64(v.value);
  if (Array.isArray(v)) return "[" + v.map(stringify).join(",") + "]";
  if (v instanceof Map) {
    return "{" + [...v].map(([k, x]) => JSON.stringify(k) + ":" + stringify(x)).join(",") + "}";
  }
  throw new TypeError(`not a JSON value: ${v}`);
}

/** serde_json's Value equality: objects regardless of key order, 1 and 1.0 differ. */
export function equal(a, b) {
  if (a instanceof Num || b instanceof Num) {
    return a instanceof Num && b instanceof Num && a.kind === b.kind && a.value === b.value;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => equal(x, b[i]));
  }
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map && b instanceof Map) || a.size !== b.size) return false;
    for (const [k, x] of a) if (!b.has(k) || !equal(x, b.get(k))) return false;
    return true;
  }
  return a === b;
}

/** A JSON value from plain JS (the cassette's own parse keeps numbers exact). */
export function tryParse(bytes) {
  try {
    return { ok: true, value: parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) };
  } catch {
    return { ok: false };
  }
}
