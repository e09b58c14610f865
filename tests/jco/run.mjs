// jco as a second component runtime: every replayable scenario under tests/ runs
// through the shipped component transpiled by jco (Node + preview2-shim) and through
// textract-host, and the two results must be the same bytes.
//   node tests/jco/run.mjs [NAME...]        (`make test-jco`)
// Per scenario: a stand-in on 127.0.0.1 answers from its cassette (standin.js), a
// child Node process runs one execution under jco with SaaS isolation (exec.mjs),
// and `textract-host run --replay` gives the reference (exit 0: the result, exit 3:
// {"error": ...}). Also checked: every request matched the cassette, every recorded
// interaction was used, and the egress denials are the scenario's `expectDenied`.
import { spawn, execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { transpile, root, component } from "./transpile.mjs";
import { Cassette, serve } from "./standin.js";

const harness = join(root, "target/debug/textract-host");
const work = join(root, "target/jco");
mkdirSync(join(work, "runs"), { recursive: true });

/** Why a scenario cannot run under this runner, or null. */
function skipReason(options) {
  if (options.selfManaged) {
    return "self-managed (default credential chain): needs the host's AWS_* grants and a read-only /aws folder, and the runner gives jco SaaS isolation only";
  }
  return null;
}

function run(cmd, args, env) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    const out = [];
    const err = [];
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => err.push(d));
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }));
  });
}

const started = Date.now();
const out = transpile();
// The harness's reference runs use the component precompiled once (same engine, same bytes).
const cwasm = join(work, "connector.cwasm");
const stale = (f) => statSync(f).mtimeMs > statSync(cwasm).mtimeMs;
if (!existsSync(cwasm) || stale(component) || stale(harness)) {
  execFileSync(harness, ["compile", "--component", component, "--output", cwasm], { stdio: ["ignore", "ignore", "inherit"] });
}
const emptyCassette = join(work, "empty-cassette.json");
writeFileSync(emptyCassette, '{"interactions":[]}\n');
const shimVersion = JSON.parse(
  readFileSync(join(root, "target/tools/node_modules/@bytecodealliance/jco/node_modules/@bytecodealliance/preview2-shim/package.json")),
).version;
console.log(`jco: Node ${process.version}, preview2-shim ${shimVersion}, component ${component}`);

const only = process.argv.slice(2);
const names = readdirSync(join(root, "tests"))
  .filter((n) => existsSync(join(root, "tests", n, "input.json")))
  .filter((n) => only.length === 0 || only.includes(n))
  .sort();

let passed = 0;
let failed = 0;
let skipped = 0;
for (const name of names) {
  const dir = join(root, "tests", name);
  const options = existsSync(join(dir, "scenario.json")) ? JSON.parse(readFileSync(join(dir, "scenario.json"), "utf8")) : {};
  const reason = skipReason(options);
  if (reason) {
    skipped++;
    console.log(`SKIP ${name}: ${reason}`);
    continue;
  }
  const input = readFileSync(join(dir, "input.json"), "utf8");
  const cassettePath = existsSync(join(dir, "cassette.json")) ? join(dir, "cassette.json") : null;
  const allowHosts = options.allowHosts ?? [];
  // Each runtime gets its own copy of the document folder: a result stored as a
  // document (documentReturnFormat DOCUMENT) lands there, not in the source tree.
  const copy = (who) => {
    if (!options.documents) return null;
    const to = join(work, "runs", `${name}.documents-${who}`);
    rmSync(to, { recursive: true, force: true });
    cpSync(join(dir, options.documents), to, { recursive: true });
    return to;
  };
  const hostDocuments = copy("host");
  const documents = copy("jco");

  // The reference: textract-host, exactly as an operator runs a replay.
  const args = ["run", "--component", cwasm, "--input", join(dir, "input.json"), "--replay", cassettePath ?? emptyCassette];
  for (const h of allowHosts) args.push("--allow-host", h);
  if (hostDocuments) args.push("--documents", hostDocuments);
  const reference = await run(harness, args, { PATH: process.env.PATH });

  // The same execution under jco.
  const cassette = new Cassette(cassettePath);
  const standin = await serve(cassette);
  const config = join(work, "runs", `${name}.json`);
  const journal = join(work, "runs", `${name}.journal.json`);
  writeFileSync(
    config,
    JSON.stringify({ out, input, mode: "saas", allowHosts, documents, recordedAt: cassette.recordedAt, standin: standin.port, journal }),
  );
  const t0 = Date.now();
  const jco = await run(process.execPath, [join(root, "tests/jco/exec.mjs"), config], {
    PATH: process.env.PATH,
    // Canaries: the guest must see none of these (exec.mjs checks the sandbox).
    TEXTRACT_JCO_CANARY: "1",
    AWS_ACCESS_KEY_ID: "AKIAJCOCANARY",
    AWS_SECRET_ACCESS_KEY: "jco/canary/never/seen",
    AWS_REGION: "eu-west-3",
  });
  const ms = Date.now() - t0;
  await standin.close();

  const problems = [];
  if (reference.code !== 0 && reference.code !== 3) problems.push(`textract-host exited ${reference.code}: ${reference.stderr.trim()}`);
  if (jco.code !== 0 && jco.code !== 3) problems.push(`jco run exited ${jco.code}: ${jco.stderr.trim()}`);
  problems.push(...cassette.problems, ...cassette.unused());
  if (problems.length === 0) {
    if (jco.code !== reference.code) problems.push(`exit ${jco.code} under jco, ${reference.code} under textract-host`);
    if (Buffer.compare(jco.stdout, reference.stdout) !== 0) {
      const [a, b] = [jco.stdout.toString(), reference.stdout.toString()];
      let i = 0;
      while (i < a.length && a[i] === b[i]) i++;
      problems.push(
        `results differ at byte ${i}:\n    jco:           ${JSON.stringify(a.slice(Math.max(0, i - 60), i + 80))}\n    textract-host: ${JSON.stringify(b.slice(Math.max(0, i - 60), i + 80))}`,
      );
    }
    if (documents) {
      // The same documents stored, byte for byte.
      const held = (folder) =>
        readdirSync(folder)
          .sort()
          .map((f) => [f, readFileSync(join(folder, f))]);
      const [a, b] = [held(documents), held(hostDocuments)];
      const same = a.length === b.length && a.every(([f, bytes], i) => f === b[i][0] && Buffer.compare(bytes, b[i][1]) === 0);
      if (!same) {
        problems.push(
          `the document folders differ: jco holds ${JSON.stringify(a.map(([f]) => f))}, textract-host ${JSON.stringify(b.map(([f]) => f))}`,
        );
      }
    }
    const denied = JSON.parse(readFileSync(journal, "utf8")).denied;
    const expected = options.expectDenied ?? [];
    if (JSON.stringify(denied) !== JSON.stringify(expected)) {
      problems.push(`egress denials: expected ${JSON.stringify(expected)}, got ${JSON.stringify(denied)}`);
    }
  }
  const what = `${reference.code === 0 ? "result" : "error"}, ${cassette.sent.length} requests, ${cassette.signed} signatures, ${jco.stdout.length} bytes, ${ms} ms`;
  if (problems.length === 0) {
    passed++;
    console.log(`PASS ${name} (${what})`);
  } else {
    failed++;
    console.log(`FAIL ${name} (${what})\n  ${problems.join("\n  ")}`);
    if (jco.stderr.trim()) console.log(`  jco stderr:\n    ${jco.stderr.trim().split("\n").slice(-15).join("\n    ")}`);
  }
}
console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
console.log(`jco: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
