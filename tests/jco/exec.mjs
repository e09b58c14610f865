// One execution of the transpiled connector under jco (Node + preview2-shim), as
// `textract-host run --replay` makes it, in its own process (a fresh instance, as
// the harness gives each execution):
//   node tests/jco/exec.mjs CONFIG.json
// CONFIG: {out, input, mode, allowHosts, documents, recordedAt, standin, journal}.
// Prints the result (exit 0) or {"error": {...}} (exit 3) on stdout, as the CLI does,
// and writes the egress denials to `journal`.
//
// The sandbox, as textract-host's SaaS mode: no environment and no preopens (the
// shim's own `sandbox` option, checked below), wasi:random a fixed sequence and the
// clocks virtual (as in replay), and every outgoing request checked against the
// harness's egress policy first; an admitted one goes to the local stand-in only.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { EgressPolicy, parseIp } from "./egress.js";
import { createHost } from "./host.js";
import { parseRfc3339 } from "./standin.js";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const root = resolve(import.meta.dirname, "../..");

// The shim jco itself depends on (jco 1.35.0 brings preview2-shim 0.26.x).
const jcoRequire = createRequire(join(root, "target/tools/node_modules/@bytecodealliance/jco/package.json"));
const { WASIShim } = await import(pathToFileURL(jcoRequire.resolve("@bytecodealliance/preview2-shim/instantiation")));
const { clocks } = await import(pathToFileURL(jcoRequire.resolve("@bytecodealliance/preview2-shim")));

const shim = new WASIShim({ sandbox: { env: {}, preopens: {}, args: [] } });
const imports = shim.getImportObject();

// SaaS isolation, verified rather than assumed: this process has an environment
// (run.mjs plants canaries in it), the guest must see none of it, and no folder.
const env = imports["wasi:cli/environment"].getEnvironment();
const dirs = imports["wasi:filesystem/preopens"].getDirectories();
if (!process.env.TEXTRACT_JCO_CANARY || env.length !== 0 || dirs.length !== 0) {
  console.error(`jco sandbox is not isolated: ${env.length} variables, ${dirs.length} preopens`);
  process.exit(1);
}

// --- Clocks: the wall clock pinned to the cassette's instant; both move only when the guest sleeps.
const start = parseRfc3339(config.recordedAt);
let elapsed = 0n; // nanoseconds of virtual time
const ready = () => clocks.monotonicClock.subscribeDuration(0n);
imports["wasi:clocks/monotonic-clock"] = {
  resolution: () => 1n,
  now: () => elapsed,
  subscribeDuration(duration) {
    elapsed += BigInt(duration);
    return ready();
  },
  subscribeInstant(when) {
    when = BigInt(when);
    if (when > elapsed) elapsed = when;
    return ready();
  },
};
imports["wasi:clocks/wall-clock"] = {
  resolution: () => ({ seconds: 0n, nanoseconds: 1 }),
  now: () => {
    const total = start * 1_000_000_000n + elapsed;
    return { seconds: total / 1_000_000_000n, nanoseconds: Number(total % 1_000_000_000n) };
  },
};

// --- Random: wasmtime_wasi::Deterministic over 0..=255 (secure) and 255..=0 (insecure).
function deterministic(bytes) {
  let i = 0;
  const next = () => bytes[i++ % bytes.length];
  const u32 = () => ((next() << 24) >>> 0) + (next() << 16) + (next() << 8) + next();
  return {
    u64: () => (BigInt(u32()) << 32n) + BigInt(u32()),
    // rand's StandardUniform for u8 is the low byte of next_u32.
    bytes: (len) => Uint8Array.from({ length: Number(len) }, () => u32() & 0xff),
  };
}
const secure = deterministic([...Array(256).keys()]);
const insecure = deterministic([...Array(256).keys()].reverse());
imports["wasi:random/random"] = { getRandomBytes: secure.bytes, getRandomU64: secure.u64 };
imports["wasi:random/insecure"] = { getInsecureRandomBytes: insecure.bytes, getInsecureRandomU64: insecure.u64 };
imports["wasi:random/insecure-seed"] = { insecureSeed: () => [0x7465787472616374n, 0n] };

// --- HTTP: the harness's egress check, then the request goes to the stand-in.
const policy = EgressPolicy.impliedBy(config.input);
for (const h of config.allowHosts) policy.allow(h);
const denied = [];
const shimHandle = imports["wasi:http/outgoing-handler"].handle;
imports["wasi:http/outgoing-handler"] = {
  handle(request, options) {
    const scheme = request.scheme() ?? { tag: "HTTPS" };
    const schemeText = scheme.tag === "other" ? scheme.val.toLowerCase() : scheme.tag.toLowerCase();
    const authority = request.authority() ?? "";
    const path = request.pathWithQuery() ?? "/";
    const method = request.method();
    const methodText = method.tag === "other" ? method.val : method.tag.toUpperCase();
    const url = `${schemeText}://${authority}${path}`;
    const colon = authority.startsWith("[") ? authority.indexOf("]:") + 1 : authority.lastIndexOf(":");
    const [host, port] =
      colon > 0 ? [authority.slice(0, colon), Number(authority.slice(colon + 1))] : [authority, schemeText === "http" ? 80 : 443];
    const admission = policy.admission(host, port);
    const literal = parseIp(host);
    if (!admission || (literal && !policy.addressAllowed(literal, admission))) {
      denied.push(`${methodText} ${url}`);
      console.error(`jco: egress denied: ${methodText} ${url}`);
      return { tag: "err", val: { tag: "HTTP-request-denied" } };
    }
    // Admitted: the only place it may go is the stand-in, which answers for the origin.
    request.setScheme({ tag: "HTTP" });
    request.setAuthority(`127.0.0.1:${config.standin}`);
    request.setPathWithQuery(`/${schemeText}/${authority}${path}`);
    const future = shimHandle(request, options);
    // Connection, and the fields it names, are hop-by-hop (RFC 9110 7.6.1): the
    // guest gets the response's own header fields, as textract-host gives them.
    const get = future.get.bind(future);
    future.get = () => {
      const result = get();
      if (result?.tag === "ok" && result.val.tag === "ok") {
        const headers = result.val.val.headers();
        const named = headers.get("connection").flatMap((v) => new TextDecoder().decode(v).split(","));
        for (const name of ["connection", ...named.map((n) => n.trim()).filter(Boolean)]) headers.delete(name);
      }
      return result;
    };
    return future;
  },
};

// --- The connector's own imports.
const host = createHost({
  mode: config.mode,
  policy,
  documents: config.documents,
});
imports["textract:connector/document-store"] = host.documentStore;
imports["textract:connector/runtime"] = host.runtime;

const { instantiate } = await import(pathToFileURL(join(config.out, "textract_connector.js")));
const modules = new Map();
const getCoreModule = (name) => {
  if (!modules.has(name)) modules.set(name, WebAssembly.compile(readFileSync(join(config.out, name))));
  return modules.get(name);
};
const connector = await instantiate(getCoreModule, imports);

let text;
let code;
try {
  text = connector.execute(config.input);
  code = 0;
} catch (e) {
  const err = e?.payload;
  if (!err || typeof err.code !== "string") {
    console.error(`jco: the connector trapped: ${e?.stack ?? e}`);
    process.exit(1);
  }
  const { kind, code: errCode, message, retryable } = err;
  text = JSON.stringify({ error: { kind, code: errCode, message, retryable } });
  code = 3;
}
writeFileSync(config.journal, JSON.stringify({ denied }));
// Written in full before exiting (a pipe takes a large result in several writes).
process.stdout.write(text + "\n", () => process.exit(code));
