// Query-chunked unfused attention inside a network: the tiny FLUX DiT (golden checkpoint and
// inputs) gives the same output with 3 query chunks as with one, whole and in 2 block groups;
// and the plan's chunks reach the networks through `plannedQueryChunks`.
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { Checkpoint } from '../../../electron/engine/runtime/safetensors.js';
import { FluxDit, buildFluxDit } from '../../../electron/engine/models/flux-dit.js';
import { plannedQueryChunks } from '../../../electron/engine/pipelines/job-plan.js';
import { GOLDEN_DIR, checkpointCandidates, fluxDitGoldenInputs } from '../../helpers/golden.js';

const GROUP_DIR = path.join(GOLDEN_DIR, 'uno', 'flux_dit');
const [TINY] = checkpointCandidates(GROUP_DIR);

describe('FLUX DiT with query-chunked unfused attention (CPU)', () => {
  test('3 chunks equal 1 chunk, whole and streamed in 2 groups', async () => {
    const ck = Checkpoint.open(TINY);
    const inputs = fluxDitGoldenInputs();
    const run = async (attentionQueryChunks: number | undefined, streamGroups: number) => {
      const dit = await FluxDit.create(ck, { ep: 'cpu', attention: 'unfused', attentionQueryChunks, streamGroups });
      try {
        return await dit.forward(inputs);
      } finally {
        await dit.release();
      }
    };
    const whole = await run(undefined, 1);
    for (const [chunks, groups] of [[3, 1], [3, 2]]) {
      const out = await run(chunks, groups);
      expect(out.length).toBe(whole.length);
      let maxDiff = 0;
      for (let i = 0; i < out.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out[i] - whole[i]));
      console.log(`flux dit unfused ${chunks} chunks, ${groups} groups vs 1 chunk max_diff=${maxDiff.toExponential(2)}`);
      expect(maxDiff).toBeLessThanOrEqual(1e-5);
    }
  });
});

test('the option reaches every attention of the graph; the fused form ignores it', () => {
  const ck = Checkpoint.open(TINY);
  const text = (opts: Parameters<typeof buildFluxDit>[1]) => Buffer.from(buildFluxDit(ck, opts).bytes).toString('latin1');
  const chunked = text({ attention: 'unfused', attentionQueryChunks: 3 });
  const blocks = (text({ attention: 'unfused' }).match(/MatMul_qk"/g) ?? []).length;
  expect(blocks).toBeGreaterThan(0);
  expect((chunked.match(/MatMul_qk_chunk2"/g) ?? []).length).toBe(blocks);
  expect(text({ attention: 'fused', attentionQueryChunks: 3 })).toBe(text({ attention: 'fused' }));
});

describe('plannedQueryChunks', () => {
  const plan = {
    backbone: 'uno' as const,
    phases: [
      { name: 'encode-text', attention: { kind: 'unfused' as const, queryChunks: 1 } },
      { name: 'denoise', attention: { kind: 'unfused' as const, queryChunks: 8 } },
      { name: 'decode', attention: { kind: 'fused' as const } },
    ],
  } as unknown as Parameters<typeof plannedQueryChunks>[0];
  test('the chunks of an unfused phase; undefined for one chunk or fused attention', () => {
    expect(plannedQueryChunks(plan, 'denoise')).toBe(8);
    expect(plannedQueryChunks(plan, 'encode-text')).toBeUndefined();
    expect(plannedQueryChunks(plan, 'decode')).toBeUndefined();
  });
  test('an unknown phase is an error naming the phases', () => {
    expect(() => plannedQueryChunks(plan, 'upscale')).toThrow('memory plan for uno has no phase "upscale" (has encode-text, denoise, decode)');
  });
});
