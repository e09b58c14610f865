// The local AWS stand-in: an HTTP/1.1 server on 127.0.0.1 that answers from a
// cassette exactly as textract-host's Replayer does (host-harness/src/transport/
// mod.rs and cassette.rs): the first unused interaction that matches on method,
// URL, the headers it lists (never signatures, dates, tokens, user agents) and the
// body (as JSON when both sides are JSON; a recording's REDACTED credentials match
// any sent value). A miss, and an interaction left unused, fail the run.
//
// The jco host sends every request here with its original `scheme://authority`
// as the first two path segments (`/https/textract.us-east-1.amazonaws.com/...`).
// Responses carry exactly the recorded headers plus `Connection: close` (which the
// host strips as hop-by-hop); the body ends when the connection closes, so no
// framing header is added that the recording does not hold.
import { createServer } from "node:net";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { STATUS_CODES } from "node:http";
import { parse, stringify, equal, tryParse } from "./json.js";

const VOLATILE_HEADERS = [
  "authorization", "x-amz-date", "x-amz-security-token", "user-agent", "x-amz-user-agent",
  "amz-sdk-invocation-id", "amz-sdk-request", "content-length", "host", "date",
];
const SECRET_NAMES = [
  "AccessKeyId", "SecretAccessKey", "SessionToken", "Token", "WebIdentityToken",
  "X-Amz-Credential", "X-Amz-Security-Token", "X-Amz-Signature",
].map((s) => s.toLowerCase());
const SECRET_HEADERS = [
  "authorization", "proxy-authorization", "x-amz-security-token", "x-aws-ec2-metadata-token", "cookie", "set-cookie",
];
const REDACTED = "REDACTED";
export const DEFAULT_REPLAY_TIME = "2026-01-15T09:30:00Z";

const isSecretName = (n) => SECRET_NAMES.includes(n.toLowerCase());

/** A cassette body ({json}, {text}, {base64}, {file} or "empty") as bytes. */
function bodyBytes(body, base) {
  if (body === undefined || body === null || body === "empty") return Buffer.alloc(0);
  const [kind, value] = [...body][0];
  switch (kind) {
    case "json":
      return Buffer.from(stringify(value));
    case "text":
      return Buffer.from(value);
    case "base64":
      return Buffer.from(value, "base64");
    case "file": {
      const bytes = readFileSync(join(base, value));
      // boto3 adds ResponseMetadata on the client side; it is never on the wire.
      const parsed = tryParse(bytes);
      if (parsed.ok && parsed.value instanceof Map && parsed.value.has("ResponseMetadata")) {
        parsed.value.delete("ResponseMetadata");
        return Buffer.from(stringify(parsed.value));
      }
      return bytes;
    }
    default:
      throw new Error(`unknown body kind ${kind}`);
  }
}

/** The best representation of bytes, redacted as a recording is (redact_bytes). */
function redactBytes(bytes) {
  const parsed = tryParse(bytes);
  if (bytes.length === 0) return bytes;
  if (parsed.ok) {
    const redact = (v) => {
      if (v instanceof Map) {
        for (const [k, x] of v) {
          if (isSecretName(k) && typeof x === "string") v.set(k, REDACTED);
          else redact(x);
        }
      } else if (Array.isArray(v)) v.forEach(redact);
    };
    redact(parsed.value);
    return Buffer.from(stringify(parsed.value));
  }
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return bytes;
  }
  if (text.trimStart().startsWith("<")) return Buffer.from(redactXml(text));
  if (text.includes("=") && !/\s/.test(text)) return Buffer.from(redactForm(text));
  return bytes;
}

function redactForm(text) {
  return text
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      if (eq < 0) return pair;
      const [name, value] = [pair.slice(0, eq), pair.slice(eq + 1)];
      return value !== "" && isSecretName(name) ? `${name}=${REDACTED}` : pair;
    })
    .join("&");
}

function redactUrl(url) {
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q) + "?" + redactForm(url.slice(q + 1));
}

function redactXml(text) {
  let out = "";
  let rest = text;
  for (;;) {
    const open = rest.indexOf("<");
    if (open < 0) break;
    out += rest.slice(0, open);
    const closeRel = rest.slice(open).indexOf(">");
    if (closeRel < 0) {
      rest = rest.slice(open);
      break;
    }
    const close = open + closeRel;
    const tag = rest.slice(open, close + 1);
    out += tag;
    rest = rest.slice(close + 1);
    const inner = tag.slice(1, -1);
    const name = inner.split(/\s/)[0];
    const local = name.split(":").pop();
    if (!/^[/?!]/.test(inner) && !inner.endsWith("/") && isSecretName(local)) {
      let end;
      if (rest.startsWith("<![CDATA[")) {
        const i = rest.indexOf("]]>");
        end = i < 0 ? rest.length : i + 3;
      } else {
        const i = rest.indexOf("<");
        end = i < 0 ? rest.length : i;
      }
      out += rest.slice(0, end).trim() !== "" ? REDACTED : rest.slice(0, end);
      rest = rest.slice(end);
    }
  }
  return out + rest;
}

function bodiesMatch(want, got) {
  if (Buffer.compare(want, got) === 0) return true;
  const [w, g] = [tryParse(want), tryParse(got)];
  return w.ok && g.ok && equal(w.value, g.value);
}

/** Why a recorded request does not match a sent one; empty when it matches. */
function differences(recorded, seen, base) {
  const diffs = [];
  const method = recorded.get("method");
  if (method.toLowerCase() !== seen.method.toLowerCase()) diffs.push(`method: recorded ${method}, sent ${seen.method}`);
  const url = recorded.get("url");
  if (url !== seen.url && url !== redactUrl(seen.url)) diffs.push(`url: recorded ${url}, sent ${seen.url}`);
  for (const [name, value] of recorded.get("headers") ?? new Map()) {
    if (VOLATILE_HEADERS.includes(name.toLowerCase())) continue;
    const want = typeof value === "string" ? value : "";
    const got = seen.headers.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
    if (got === want) continue;
    if (got !== undefined && want === REDACTED && SECRET_HEADERS.includes(name.toLowerCase())) continue;
    diffs.push(`header ${name}: recorded ${JSON.stringify(want)}, sent ${JSON.stringify(got ?? null)}`);
  }
  let want;
  try {
    want = bodyBytes(recorded.get("body"), base);
  } catch (e) {
    diffs.push(`body: ${e.message}`);
    return diffs;
  }
  if (!bodiesMatch(want, seen.body) && !bodiesMatch(want, redactBytes(seen.body))) {
    diffs.push(`body: recorded ${want.length} bytes, sent ${seen.body.length} bytes`);
  }
  return diffs;
}

/** Parses `YYYY-MM-DDTHH:MM:SS[.fff]Z` into seconds since the epoch (parse_rfc3339_utc). */
export function parseRfc3339(text) {
  const m = /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(\.\d+)?(Z|\+00:00)$/.exec(text.trim());
  if (!m) throw new Error(`${text} is not a UTC time like 2026-01-15T09:30:00Z`);
  return BigInt(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) / 1000);
}

export class Cassette {
  constructor(path) {
    this.base = path ? dirname(path) : ".";
    const doc = path ? parse(readFileSync(path, "utf8")) : new Map();
    this.recordedAt = doc.get("recordedAt") ?? DEFAULT_REPLAY_TIME;
    this.interactions = doc.get("interactions") ?? [];
    this.used = this.interactions.map(() => false);
    this.problems = [];
    this.sent = [];
    /** Requests whose asserted signature matched. */
    this.signed = 0;
  }

  /** The response for a sent request, or null (and a problem noted) on a miss. */
  answer(seen) {
    this.sent.push(`${seen.method} ${seen.url}`);
    let closest = null;
    for (const [i, interaction] of this.interactions.entries()) {
      if (this.used[i]) continue;
      const diffs = differences(interaction.get("request"), seen, this.base);
      if (diffs.length === 0) {
        this.used[i] = true;
        // The signature, date and token a scenario asserts (expectSigned): the same
        // pinned clock and random sequence must give the same signature.
        const asserted = interaction.get("request").get("expectSigned") ?? new Map();
        const signed = [...asserted]
          .map(([name, want]) => [name, want, seen.headers.find(([k]) => k === name.toLowerCase())?.[1]])
          .filter(([, want, got]) => want !== got)
          .map(([name, want, got]) => `signed header ${name}: expected ${JSON.stringify(want)}, sent ${JSON.stringify(got ?? null)}`);
        if (signed.length > 0) {
          this.problems.push(`${seen.method} ${seen.url}: ${signed.join("; ")}`);
          return null;
        }
        if (asserted.size > 0) this.signed += 1;
        return this.response(interaction.get("response"));
      }
      if (!closest || diffs.length < closest[1].length) closest = [i, diffs];
    }
    const target = seen.headers.find(([k]) => k.toLowerCase() === "x-amz-target")?.[1];
    const summary = `${seen.method} ${seen.url}${target ? ` (${target})` : ""}`;
    this.problems.push(
      closest
        ? `cassette miss: ${summary} — the closest unused interaction (#${closest[0] + 1}) differs:\n    ${closest[1].join("\n    ")}`
        : `cassette miss: ${summary} — every recorded interaction is already used`,
    );
    return null;
  }

  response(recorded) {
    const headers = [];
    for (const [k, v] of recorded.get("headers") ?? new Map()) {
      if (Array.isArray(v)) v.filter((x) => typeof x === "string").forEach((x) => headers.push([k, x]));
      else headers.push([k, typeof v === "string" ? v : ""]);
    }
    return { status: Number(recorded.get("status").value), headers, body: bodyBytes(recorded.get("body"), this.base) };
  }

  unused() {
    return this.interactions
      .map((x, i) => [x, i])
      .filter(([, i]) => !this.used[i])
      .map(([x, i]) => `interaction #${i + 1} (${x.get("request").get("method")} ${x.get("request").get("url")}) was never requested`);
  }
}

/** Reads one HTTP/1.1 request from a buffer: null until it is complete. */
function parseRequest(buf) {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
  const [method, target] = lines[0].split(" ");
  const headers = lines.slice(1).map((l) => {
    const c = l.indexOf(":");
    return [l.slice(0, c).trim(), l.slice(c + 1).trim()];
  });
  const get = (n) => headers.find(([k]) => k.toLowerCase() === n)?.[1];
  let rest = buf.subarray(end + 4);
  let body;
  if (get("transfer-encoding")?.toLowerCase().includes("chunked")) {
    const chunks = [];
    for (;;) {
      const eol = rest.indexOf("\r\n");
      if (eol < 0) return null;
      const size = parseInt(rest.subarray(0, eol).toString("latin1"), 16);
      if (rest.length < eol + 2 + size + 2) return null;
      if (size === 0) break;
      chunks.push(rest.subarray(eol + 2, eol + 2 + size));
      rest = rest.subarray(eol + 2 + size + 2);
    }
    body = Buffer.concat(chunks);
  } else {
    const length = Number(get("content-length") ?? 0);
    if (rest.length < length) return null;
    body = rest.subarray(0, length);
  }
  return { method, target, headers, body };
}

/** Starts a stand-in for `cassette`; resolves to {port, close()}. */
export function serve(cassette) {
  const server = createServer((socket) => {
    let buf = Buffer.alloc(0);
    let done = false;
    socket.on("error", () => {});
    socket.on("data", (data) => {
      if (done) return;
      buf = Buffer.concat([buf, data]);
      const request = parseRequest(buf);
      if (!request) return;
      done = true;
      const m = /^\/([a-z]+)\/([^/]+)(\/.*)?$/.exec(request.target);
      if (!m) {
        cassette.problems.push(`the stand-in got a request without its origin: ${request.method} ${request.target}`);
        socket.destroy();
        return;
      }
      const seen = {
        method: request.method,
        url: `${m[1]}://${m[2]}${m[3] ?? "/"}`,
        headers: request.headers.map(([k, v]) => [k.toLowerCase(), v]),
        body: request.body,
      };
      const answer = cassette.answer(seen);
      if (!answer) {
        socket.destroy();
        return;
      }
      const head = [`HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? "Unknown"}`];
      for (const [k, v] of answer.headers) head.push(`${k}: ${v}`);
      head.push("Connection: close", "", "");
      socket.end(Buffer.concat([Buffer.from(head.join("\r\n"), "latin1"), answer.body]));
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () =>
      resolve({ port: server.address().port, close: () => new Promise((r) => server.close(r)) }),
    );
  });
}

