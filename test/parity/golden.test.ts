// Golden parity suite: runs our networks on every case file of the golden groups and compares
// every output the case file holds. Cases, sizes, counts and configs are discovered from the
// files (UMO_GOLDEN_DIR, UMO_GOLDEN_GROUPS); only which network serves a group is written here.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { Checkpoint } from '../../electron/engine/runtime/safetensors.js';
import { readAllTensors, type TensorMap } from '../../electron/engine/runtime/tensor.js';
import { EVAL_NETWORKS, type EvalNetworkName } from '../../electron/engine/eval/networks.js';
import type { ExecutionProvider } from '../../electron/engine/runtime/sessions.js';
import {
  GOLDEN_DIR, caseFiles, checkpointCandidates, compareTensors, formatLine, selectedGroups,
} from '../helpers/golden.js';

/** Single forward in fp32: the golden README's suggested tolerance. */
const ATOL = 1e-4;
const RTOL = 1e-4;

interface GroupSpec {
  /** Networks to run on each case (their outputs are compared where the case holds them). */
  networks(caseFile: string): EvalNetworkName[];
  /** The checkpoint serving a case, among the group's candidates. */
  checkpoint(caseFile: string, candidates: string[]): string;
  eps: ExecutionProvider[];
  /** Why a case is not checked (e.g. it feeds an input path we do not implement), or null. */
  skipReason?(caseTensorNames: readonly string[]): string | null;
}

function onlyCandidate(group: string) {
  return (_c: string, candidates: string[]) => {
    if (candidates.length !== 1) throw new Error(`${group}: expected one checkpoint, found ${candidates.length}: ${candidates.join(', ')}`);
    return candidates[0];
  };
}

const epsFromEnv = (process.env.UMO_PARITY_EPS ?? 'cpu,webgpu').split(',').map((s) => s.trim()) as ExecutionProvider[];
const gpuToo = (eps: ExecutionProvider[]) => eps.filter((e) => epsFromEnv.includes(e));

const GROUPS: Record<string, GroupSpec> = {
  'uno/flux_dit': {
    networks: () => ['flux-dit'],
    checkpoint: onlyCandidate('uno/flux_dit'),
    eps: gpuToo(['cpu', 'webgpu']),
  },
  'uno/vae': {
    networks: () => ['vae-encode', 'vae-decode'],
    checkpoint: onlyCandidate('uno/vae'),
    eps: gpuToo(['cpu', 'webgpu']),
  },
  'omnigen2/vae_diffusers': {
    networks: () => ['vae-encode', 'vae-decode'],
    checkpoint: onlyCandidate('omnigen2/vae_diffusers'),
    eps: gpuToo(['cpu', 'webgpu']),
  },
  'omnigen2/transformer': {
    networks: () => ['omnigen2-transformer'],
    // The group also holds reference RoPE tables (freqs_cis_*); the model is the folder with a config.
    checkpoint: (c, candidates) => onlyCandidate('omnigen2/transformer')(c, candidates.filter((p) => fs.existsSync(path.join(p, 'config.json')))),
    eps: gpuToo(['cpu', 'webgpu']),
  },
  'omnigen2/qwen25vl': {
    networks: () => ['qwen25vl-text'],
    checkpoint: onlyCandidate('omnigen2/qwen25vl'),
    eps: gpuToo(['cpu', 'webgpu']),
    // OmniGen2's generation pipeline feeds text only; the image+text case belongs to the chat pipeline.
    skipReason: (names) => (names.includes('pixel_values') ? 'image+text input (vision tower not used by generation)' : null),
  },
  'uno/text_encoders': {
    // `<net>_case.safetensors` is served by the `<net>_*` checkpoint folder.
    networks: (c) => [c.split('_')[0] as EvalNetworkName],
    checkpoint: (c, candidates) => {
      const prefix = `${c.split('_')[0]}_`;
      const hit = candidates.filter((p) => path.basename(p).startsWith(prefix));
      if (hit.length !== 1) throw new Error(`uno/text_encoders: no unique checkpoint for ${c} (prefix ${prefix})`);
      return hit[0];
    },
    eps: gpuToo(['cpu']),
  },
};

const groups = selectedGroups(Object.keys(GROUPS));

describe.each(groups)('golden %s', (group) => {
  const spec = GROUPS[group];
  const dir = path.join(GOLDEN_DIR, group);
  const cases = caseFiles(dir);
  const candidates = checkpointCandidates(dir);

  test('has cases', () => {
    expect(cases.length).toBeGreaterThan(0);
  });

  const checked = cases.filter((c) => {
    const reason = spec.skipReason?.(Checkpoint.open(path.join(dir, c)).keys());
    if (reason) console.log(`golden ${group}/${c.replace(/\.safetensors$/, '')} skipped: ${reason}`);
    return !reason;
  });
  const combos = checked.flatMap((c) => spec.eps.map((ep) => [c, ep] as const));
  test.each(combos)('%s on %s', async (caseFile, ep) => {
    const caseTensors: TensorMap = readAllTensors(Checkpoint.open(path.join(dir, caseFile)));
    const ckpt = spec.checkpoint(caseFile, candidates);
    const caseName = caseFile.replace(/\.safetensors$/, '');
    let compared = 0;
    const failures: string[] = [];
    for (const net of spec.networks(caseFile)) {
      const outputs = await EVAL_NETWORKS[net].run(ckpt, caseTensors, { ep });
      for (const [name, actual] of outputs) {
        const expected = caseTensors.get(name);
        if (!expected) continue;
        const c = compareTensors(actual, expected, ATOL, RTOL);
        const line = formatLine(`${group}/${caseName}/${name}`, ep, c);
        console.log(line);
        compared++;
        if (!c.ok) failures.push(line);
      }
    }
    expect(compared, `no output of ${caseFile} was compared`).toBeGreaterThan(0);
    expect(failures).toEqual([]);
  });
});

test('golden directory exists', () => {
  expect(fs.existsSync(GOLDEN_DIR), `UMO_GOLDEN_DIR ${GOLDEN_DIR} does not exist`).toBe(true);
  expect(groups.length, 'no golden group selected').toBeGreaterThan(0);
});
