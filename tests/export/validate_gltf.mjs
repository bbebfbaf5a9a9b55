// Validate glTF/GLB files with the Khronos glTF-Validator (npm gltf-validator, installed in
// web/node_modules) and print one JSON report per file: node tests/export/validate_gltf.mjs A.glb ...
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(fileURLToPath(new URL("../../web/package.json", import.meta.url)));
const validator = require("gltf-validator");

const reports = [];
for (const file of process.argv.slice(2)) {
  const bytes = new Uint8Array(await readFile(file));
  const report = await validator.validateBytes(bytes, { uri: file, maxIssues: 200 });
  reports.push({ file, validator: report.validatedBy, issues: report.issues, info: report.info });
}
process.stdout.write(JSON.stringify(reports));
