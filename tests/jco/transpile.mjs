// Transpiles the shipped component (target/component/textract_connector.wasm) with
// jco into target/jco/out, unless the output is newer than the component.
//   node tests/jco/transpile.mjs
// Instantiation mode (`--instantiation async`): the runner passes every import per
// execution (the shim's, with its sandbox, and tests/jco/host.js's document-store and
// runtime), which is what `-M textract:connector/...=host.js#...` does for one global
// instance, but with a fresh instance and configuration per execution.
import { execFileSync } from "node:child_process";
import { existsSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

export const root = resolve(import.meta.dirname, "../..");
export const component = join(root, "target/component/textract_connector.wasm");
export const out = join(root, "target/jco/out");
export const jco = join(root, "target/tools/node_modules/.bin/jco");

export function transpile() {
  if (!existsSync(jco)) throw new Error("jco is not installed: run `make tools`");
  if (!existsSync(component)) throw new Error("no component: run `make component`");
  const js = join(out, "textract_connector.js");
  if (existsSync(js) && statSync(js).mtimeMs > statSync(component).mtimeMs) return out;
  rmSync(out, { recursive: true, force: true });
  execFileSync(jco, ["transpile", component, "-o", out, "--instantiation", "async", "--no-typescript", "-q"], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`transpiled into ${transpile()}`);
}
