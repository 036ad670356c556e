// Golden-vector discovery and comparison shared by the parity suite and model tests.
import fs from 'node:fs';
import path from 'node:path';
import { type HostTensor, readAllTensors } from '../../electron/engine/runtime/tensor.js';
import { Checkpoint } from '../../electron/engine/runtime/safetensors.js';
import type { FluxDitInputs } from '../../electron/engine/models/flux-dit.js';
import { fluxDitInputsFromTensors } from '../../electron/engine/eval/flux-dit.js';

export const GOLDEN_DIR = path.resolve(process.env.UMO_GOLDEN_DIR ?? 'test/fixtures/golden');

/** Golden groups selected by UMO_GOLDEN_GROUPS (comma-separated), default: all present. */
export function selectedGroups(all: readonly string[]): string[] {
  const env = process.env.UMO_GOLDEN_GROUPS?.trim();
  const present = all.filter((g) => fs.existsSync(path.join(GOLDEN_DIR, g)));
  if (!env) return present;
  const wanted = env.split(',').map((s) => s.trim()).filter(Boolean);
  return present.filter((g) => wanted.includes(g));
}

/** Case files of a group: `*.safetensors` whose name contains "case". */
export function caseFiles(groupDir: string): string[] {
  return fs.readdirSync(groupDir).filter((f) => f.endsWith('.safetensors') && f.includes('case')).sort();
}

/** Checkpoints of a group: non-case `.safetensors` files and sub-folders holding model files. */
export function checkpointCandidates(groupDir: string): string[] {
  const out: string[] = [];
  for (const f of fs.readdirSync(groupDir).sort()) {
    const p = path.join(groupDir, f);
    if (fs.statSync(p).isDirectory()) {
      if (fs.readdirSync(p).some((n) => n.endsWith('.safetensors'))) out.push(p);
    } else if (f.endsWith('.safetensors') && !f.includes('case')) {
      out.push(p);
    }
  }
  return out;
}

export interface Comparison {
  maxErr: number;
  /** The allowed error at the element closest to (or furthest past) its limit. */
  tol: number;
  ok: boolean;
  count: number;
}

/** Element-wise `|a-b| <= atol + rtol*|b|`; shapes must match. */
export function compareTensors(actual: HostTensor, expected: HostTensor, atol: number, rtol: number): Comparison {
  const shapeOk = actual.shape.length === expected.shape.length && actual.shape.every((d, i) => d === expected.shape[i]);
  if (!shapeOk) return { maxErr: Infinity, tol: 0, ok: false, count: 0 };
  const a = actual.data as Float32Array;
  const b = expected.data as Float32Array;
  let maxErr = 0;
  let worst = -Infinity;
  let tolAtWorst = atol;
  let ok = true;
  for (let i = 0; i < b.length; i++) {
    const err = Math.abs(Number(a[i]) - Number(b[i]));
    const allowed = atol + rtol * Math.abs(Number(b[i]));
    if (!(err <= allowed)) ok = false;
    if (err > maxErr || Number.isNaN(err)) maxErr = Number.isNaN(err) ? Infinity : err;
    const margin = err - allowed;
    if (margin > worst) { worst = margin; tolAtWorst = allowed; }
  }
  return { maxErr, tol: tolAtWorst, ok, count: b.length };
}

export function formatLine(id: string, ep: string, c: Comparison): string {
  return `golden ${id} ${ep} max_err=${c.maxErr.toExponential(2)} tol=${c.tol.toExponential(2)} ${c.ok ? 'ok' : 'FAIL'}`;
}

/** The golden FLUX DiT two-reference case (uno/flux_dit) as one forward's inputs. */
export function fluxDitGoldenInputs(): FluxDitInputs {
  const dir = path.join(GOLDEN_DIR, 'uno', 'flux_dit');
  const cases = caseFiles(dir);
  return fluxDitInputsFromTensors(readAllTensors(Checkpoint.open(path.join(dir, cases.find((c) => c.includes('two')) ?? cases[0]))), true);
}
