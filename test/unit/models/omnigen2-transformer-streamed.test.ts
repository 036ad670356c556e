// OmniGen2 transformer streamed in block groups: for 2, 3 and one group per block (which puts a
// boundary between every refiner stack and the main layers), the grouped forward equals the
// whole-network forward on the tiny golden checkpoint (batch 2, padded text, mixed reference
// counts) on CPU, and one WebGPU case; one group session at a time, all released; the split is
// the memory planner's; group graphs hand over only the streams they touch.
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Checkpoint } from '../../../electron/engine/runtime/safetensors.js';
import { readAllTensors } from '../../../electron/engine/runtime/tensor.js';
import { probeExecutionProviders } from '../../../electron/engine/runtime/sessions.js';
import { splitBlockGroups, storedBlockBytes } from '../../../electron/engine/runtime/block-groups.js';
import { largestBlockGroup } from '../../../electron/engine/runtime/memory-planner.js';
import { decodeModel } from '../../../electron/engine/runtime/onnx-proto.js';
import {
  OMNIGEN2_GROUP_IO, OMNIGEN2_TRANSFORMER_IO, OmniGen2Transformer, buildOmniGen2TransformerGroup, omniGen2BlockPaths,
  readOmniGen2TransformerConfig,
} from '../../../electron/engine/models/omnigen2-transformer.js';
import { omniGen2ForwardInputsOf } from '../../../electron/engine/eval/omnigen2-transformer.js';
import { GOLDEN_DIR } from '../../helpers/golden.js';

const GROUP = path.join(GOLDEN_DIR, 'omnigen2/transformer');
const CHECKPOINT = path.join(GROUP, 'tiny');
const ck = Checkpoint.open(CHECKPOINT);
const cfg = readOmniGen2TransformerConfig(ck);
const PATHS = omniGen2BlockPaths(cfg);
const BLOCKS = PATHS.length;
const inputs = omniGen2ForwardInputsOf(readAllTensors(Checkpoint.open(path.join(GROUP, 'case_b2_padded_text_mixed_refs.safetensors'))));
let whole: Float32Array;

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

beforeAll(async () => {
  const m = await OmniGen2Transformer.create(ck, { ep: 'cpu' });
  try {
    whole = await m.forward(inputs);
  } finally {
    await m.release();
  }
});

describe('OmniGen2 transformer block groups on CPU', () => {
  it('blocks in the planner order: context, noise and reference refiners, then the layers', () => {
    expect(PATHS).toEqual(['context_refiner.0', 'noise_refiner.0', 'ref_image_refiner.0', 'layers.0', 'layers.1']);
  });

  for (const g of [2, 3, BLOCKS]) {
    it(`${g} groups, streamed: same output as the whole network, one group session at a time`, async () => {
      const m = await OmniGen2Transformer.create(ck, { ep: 'cpu', streamGroups: g });
      try {
        const bytes = storedBlockBytes(ck, PATHS);
        expect(m.groups).toEqual(splitBlockGroups(bytes, g));
        expect(Math.max(...m.groups.map((x) => x.bytes))).toBe(largestBlockGroup(bytes, g));
        expect(m.groups.length).toBe(g);
        const out = await m.forward(inputs);
        const diff = maxAbsDiff(out, whole);
        console.log(`omnigen2 transformer ${g} groups (${m.groups.map((x) => `${x.first}-${x.end}`).join(', ')}) streamed: max |streamed − whole| = ${diff.toExponential(2)}`);
        expect(diff).toBeLessThanOrEqual(1e-6);
        // Without references and batch 1 (the dummy reference row path) the groups agree as well.
        const single = { ...inputs, latents: inputs.latents.subarray(0, inputs.latents.length / 2), timesteps: [inputs.timesteps[0]],
          text: inputs.text.subarray(0, inputs.text.length / 2), textMask: Array.from(inputs.textMask).slice(0, inputs.textLen).map(Number), refs: [[]] };
        const ref = await OmniGen2Transformer.create(ck, { ep: 'cpu' });
        try {
          expect(maxAbsDiff(await m.forward(single), await ref.forward(single))).toBeLessThanOrEqual(1e-6);
        } finally {
          await ref.release();
        }
        expect(m.sessionCounts).toMatchObject({ peakLive: 1, live: 0, created: 2 * g, released: 2 * g });
      } finally {
        await m.release();
      }
    });
  }

  it('3 groups kept resident: same output, sessions created once and released at the end', async () => {
    const m = await OmniGen2Transformer.create(ck, { ep: 'cpu', streamGroups: 3, keepGroupsResident: true });
    try {
      expect(maxAbsDiff(await m.forward(inputs), whole)).toBeLessThanOrEqual(1e-6);
      expect(m.sessionCounts).toMatchObject({ live: 3, created: 3, released: 0 });
    } finally {
      await m.release();
    }
    expect(m.sessionCounts).toMatchObject({ live: 0, released: 3 });
  });

  it('group graphs take and return only the streams they touch, weights of their own blocks only', () => {
    const io = OMNIGEN2_TRANSFORMER_IO;
    // context_refiner.0 with all embedders: returns the text stream after block 0 and the raw noise/ref streams.
    const g0 = buildOmniGen2TransformerGroup(ck, { first: 0, end: 1 }, { config: cfg });
    expect(g0.outputNames).toEqual(['text_hidden.1', 'noise_hidden.1', 'ref_hidden.2', OMNIGEN2_GROUP_IO.tembAct]);
    // noise_refiner.0 only: takes the noise stream, returns it.
    const g1 = buildOmniGen2TransformerGroup(ck, { first: 1, end: 2 }, { config: cfg });
    expect([...g1.inputNames].sort()).toEqual([io.ropeCos, io.ropeSin, OMNIGEN2_GROUP_IO.tembAct, 'noise_hidden.1', io.noiseRope].sort());
    expect(g1.outputNames).toEqual(['noise_hidden.2']);
    // ref_image_refiner.0 + layers.0: gathers the joint sequence from all three streams.
    const g2 = buildOmniGen2TransformerGroup(ck, { first: 2, end: 4 }, { config: cfg });
    expect(g2.inputNames).toEqual(expect.arrayContaining(['text_hidden.1', 'noise_hidden.2', 'ref_hidden.2', io.jointIndex, io.refSample]));
    expect(g2.inputNames).not.toContain(io.text);
    expect(g2.outputNames).toEqual(['joint_hidden.4']);
    const g3 = buildOmniGen2TransformerGroup(ck, { first: 4, end: 5 }, { config: cfg });
    expect([...g3.inputNames].sort()).toEqual([io.ropeCos, io.ropeSin, 'joint_hidden.4', io.jointRope, io.jointMask, OMNIGEN2_GROUP_IO.tembAct, io.outputIndex].sort());
    expect(g3.outputNames).toEqual([io.output]);

    const model = decodeModel(g2.bytes);
    const weights = model.graph.initializer.filter((t) => (t.externalData?.length ?? 0) > 0).map((t) => t.name);
    expect(weights.filter((k) => !/^(ref_image_refiner\.0|layers\.0)\./.test(k))).toEqual([]);
    expect(model.graph.node.map((n) => n.name)).toContain('/layers.0/attn/to_q/MatMul');
    expect(() => buildOmniGen2TransformerGroup(ck, { first: 3, end: 9 }, { config: cfg }))
      .toThrow(`OmniGen2 transformer block group [3, 9) is not a non-empty range of the ${BLOCKS} blocks`);
  });
});

const webgpuWorks = (await probeExecutionProviders()).some((p) => p.ep === 'webgpu' && p.works);

describe.skipIf(!webgpuWorks)('OmniGen2 transformer block groups on WebGPU', () => {
  it('3 groups streamed on WebGPU equal the whole network on WebGPU', async () => {
    const outs: Float32Array[] = [];
    for (const streamGroups of [1, 3]) {
      const m = await OmniGen2Transformer.create(ck, { ep: 'webgpu', streamGroups });
      try {
        outs.push(await m.forward(inputs));
        expect(m.sessionCounts.peakLive).toBe(1);
      } finally {
        await m.release();
      }
    }
    const diff = maxAbsDiff(outs[1], outs[0]);
    console.log(`omnigen2 transformer 3 groups streamed on webgpu: max |streamed − whole| = ${diff.toExponential(2)}`);
    expect(diff).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(outs[1], whole)).toBeLessThan(1e-3);
  });
});
