#!/usr/bin/env node
// The README's test command: lint, type-check, then every vitest project, and one closing line
// `N passed, N failed` (CI reads that line, not vitest's own summary).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const results = path.join(os.tmpdir(), `umo-vitest-${process.pid}.json`);
let passed = 0;
let failed = 0;
const steps = [];

function step(name, cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: process.env });
  const ok = r.status === 0;
  steps.push(`${ok ? 'ok  ' : 'FAIL'} ${name}`);
  if (ok) passed++;
  else failed++;
  return ok;
}

step('lint', 'npx', ['eslint', '.']);
step('typecheck', 'npm', ['run', '--silent', 'typecheck']);
// The engine process, the CLI and web mode run from dist/, the UI from renderer/dist/
// (integration and end-to-end tests use them).
step('build', 'npm', ['run', '--silent', 'build']);
step('build renderer', 'npm', ['run', '--silent', 'build:renderer']);
const extra = process.argv.slice(2);
const r = spawnSync('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${results}`, ...extra], { stdio: 'inherit', env: process.env });
if (fs.existsSync(results)) {
  const j = JSON.parse(fs.readFileSync(results, 'utf8'));
  passed += j.numPassedTests ?? 0;
  failed += (j.numFailedTests ?? 0) + (j.numRuntimeErrorTestSuites ?? 0);
  if (j.numTotalTests === 0) { failed++; steps.push('FAIL no tests ran'); }
  fs.rmSync(results, { force: true });
} else {
  failed++;
  steps.push(`FAIL vitest produced no results (exit ${r.status})`);
}
if (r.status !== 0 && failed === 0) { failed++; steps.push(`FAIL vitest exited ${r.status}`); }
for (const s of steps) console.log(s);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
