// Validates our element template, element-templates/aws-textract-connector.json, with
// bpmn-io's own validator (`validateZeebe` of @bpmn-io/element-templates-validator, the
// schema the Camunda Modelers load templates with): no errors and no warnings.
// When the official templates are installed too, it checks that ours keeps the newest
// official version's contract: the same task type, every `zeebe:input` binding name,
// and every dropdown value, so models written with the official template stay valid.
//
// `make tools` installs both packages into target/tools; without the validator this
// prints "skipped" and exits 0 (make test says so too). Run: node tests/element-templates/validate.mjs
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const tools = join(root, "target", "tools");
const ours = join(root, "element-templates", "aws-textract-connector.json");
const VALIDATOR = "@bpmn-io/element-templates-validator";
const OFFICIAL = "@camunda/connectors-element-templates";
const OFFICIAL_FILE = "src/element-templates/aws-textract-outbound-connector.json";

const require = createRequire(join(tools, "package.json"));
if (!existsSync(join(tools, "node_modules", VALIDATOR))) {
  console.log(`element template validation: skipped (${VALIDATOR} is not installed; run \`make tools\`)`);
  process.exit(0);
}
const { validateZeebe } = require(VALIDATOR);
const validatorVersion = JSON.parse(readFileSync(require.resolve(`${VALIDATOR}/package.json`), "utf8")).version;

const text = readFileSync(ours, "utf8");
const template = JSON.parse(text);
const problems = [];
const result = validateZeebe(text);
const { valid } = result;
const errors = result.errors ?? [];
const warnings = result.warnings ?? [];
const where = (e) => (e.dataPointer?.value ? ` (line ${e.dataPointer.value.line})` : "");
for (const e of errors) problems.push(`error at ${e.instancePath || "/"}${where(e)}: ${e.message}`);
for (const w of warnings) problems.push(`warning at ${w.instancePath || "/"}${where(w)}: ${w.message}`);
if (!valid && errors.length === 0) problems.push("not valid, without a reported error");
for (const key of ["$schema", "id", "version", "engines", "icon", "documentationRef"]) {
  if (template[key] === undefined) problems.push(`the template has no ${key}`);
}

const inputs = (t) => t.properties.filter((p) => p.binding?.type === "zeebe:input");
const taskType = (t) => t.properties.find((p) => p.binding?.type === "zeebe:taskDefinition" && p.binding.property === "type")?.value;
let compared = "official templates not installed: the contract was not compared";
const officialPath = join(tools, "node_modules", OFFICIAL, OFFICIAL_FILE);
if (existsSync(officialPath)) {
  const official = [JSON.parse(readFileSync(officialPath, "utf8"))].flat();
  const newest = official.reduce((a, b) => (b.version > a.version ? b : a));
  if (taskType(newest) !== taskType(template)) {
    problems.push(`task type ${taskType(template)} differs from the official ${taskType(newest)}`);
  }
  const ourInputs = inputs(template);
  for (const p of inputs(newest)) {
    const same = ourInputs.filter((q) => q.binding.name === p.binding.name);
    if (same.length === 0) {
      problems.push(`the official v${newest.version} binding ${p.binding.name} ('${p.label ?? p.id}') is missing`);
      continue;
    }
    for (const choice of p.choices ?? []) {
      if (!same.some((q) => (q.choices ?? []).some((c) => c.value === choice.value) || q.type !== "Dropdown")) {
        problems.push(`${p.binding.name}: the official choice ${choice.value} is missing`);
      }
    }
  }
  const theirCredential = newest.configurationTemplates?.[0];
  const ourCredential = template.configurationTemplates?.[0];
  if (theirCredential && theirCredential.id !== ourCredential?.id) {
    problems.push(`the credential template is ${ourCredential?.id}, not the official ${theirCredential.id}`);
  }
  compared = `keeps official v${newest.version}'s task type and all ${inputs(newest).length} of its input bindings`;
}

if (problems.length > 0) {
  console.error(`element template ${ours}: ${problems.length} problem(s) (validator ${validatorVersion})`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log(
  `element template ${template.id} v${template.version}: valid for validateZeebe ` +
    `(${VALIDATOR}@${validatorVersion}), no errors or warnings; ${compared}`
);
