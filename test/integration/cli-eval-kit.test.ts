// `umo-studio eval` and `umo-studio kit` as a user runs them (built CLI from dist/).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { Checkpoint } from '../../electron/engine/runtime/safetensors.js';
import { GOLDEN_DIR, caseFiles, checkpointCandidates, compareTensors } from '../helpers/golden.js';
import { readAllTensors } from '../../electron/engine/runtime/tensor.js';

const cli = path.resolve('dist/electron/cli/umo-studio.js');
const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'umo-cli-eval-'));

describe('umo-studio eval', () => {
  const dir = path.join(GOLDEN_DIR, 'uno/flux_dit');
  test.runIf(fs.existsSync(dir))('flux-dit on a golden case writes the output under its golden name', () => {
    const caseFile = path.join(dir, caseFiles(dir)[0]);
    const out = path.join(tmp(), 'out.safetensors');
    const r = run(['eval', 'flux-dit', '--checkpoint', checkpointCandidates(dir)[0], '--inputs', caseFile, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/eval flux-dit on cpu: 1 outputs/);
    const ours = readAllTensors(Checkpoint.open(out)).get('output')!;
    const expected = readAllTensors(Checkpoint.open(caseFile)).get('output')!;
    expect(compareTensors(ours, expected, 1e-4, 1e-4).ok).toBe(true);
  });

  test.each([
    [['eval'], /name a network/],
    [['eval', 'sdxl'], /unknown network "sdxl"/],
    [['eval', 'flux-dit', '--inputs', 'x', '--out', 'y'], /--checkpoint PATH is required/],
    [['eval', 'flux-dit', '--checkpoint', '/nope', '--inputs', 'x', '--out', '/tmp/y'], /checkpoint \/nope does not exist/],
    [['eval', 't5', '--checkpoint', '/tmp', '--inputs', 'x', '--out', '/tmp/y', '--ep', 'gpu'], /unknown --ep "gpu"/],
  ])('usage error %j', (args, message) => {
    const r = run(args as string[]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  test.runIf(fs.existsSync(dir))('a wrong checkpoint names the file and the missing key; wrong inputs name the tensor', () => {
    const vaeDir = path.join(GOLDEN_DIR, 'uno/vae');
    const out = path.join(tmp(), 'out.safetensors');
    const ditCase = path.join(dir, caseFiles(dir)[0]);
    const wrongCk = run(['eval', 'flux-dit', '--checkpoint', checkpointCandidates(vaeDir)[0], '--inputs', ditCase, '--out', out]);
    expect(wrongCk.status).toBe(1);
    expect(wrongCk.stderr).toMatch(/ae_tiny_f32\.safetensors: missing tensor "img_in\.weight"/);
    const wrongInputs = run(['eval', 'flux-dit', '--checkpoint', checkpointCandidates(dir)[0], '--inputs', path.join(vaeDir, caseFiles(vaeDir)[0]), '--out', out]);
    expect(wrongInputs.status).toBe(1);
    expect(wrongInputs.stderr).toMatch(/missing input tensor "img"/);
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('umo-studio kit', () => {
  test('writes a kit that generate can use, and refuses a non-empty folder', () => {
    const d = path.join(tmp(), 'kit');
    const r = run(['kit', '--out', d]);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.existsSync(path.join(d, 'black-forest-labs', 'FLUX.1-dev', 'flux1-dev.safetensors'))).toBe(true);
    const again = run(['kit', '--out', d]);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/is not empty/);
  });
});
