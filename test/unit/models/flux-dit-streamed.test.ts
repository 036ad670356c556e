// FLUX DiT streamed in block groups: for 2, 3 and one group per block, the grouped forward equals
// the whole-network forward on the tiny golden checkpoint (CPU, and one WebGPU case); streaming
// holds at most one group session at a time and releases every one; the groups are the memory
// planner's split; group graphs keep checkpoint module paths in their node names.
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { Checkpoint } from '../../../electron/engine/runtime/safetensors.js';
import { probeExecutionProviders, resetSessionStats, sessionStats } from '../../../electron/engine/runtime/sessions.js';
import { splitBlockGroups, storedBlockBytes } from '../../../electron/engine/runtime/block-groups.js';
import { largestBlockGroup } from '../../../electron/engine/runtime/memory-planner.js';
import { decodeModel } from '../../../electron/engine/runtime/onnx-proto.js';
import {
  FLUX_DIT_GROUP_IO, FLUX_DIT_IO, FluxDit, buildFluxDitGroup, fluxDitBlockPaths, readFluxDitConfig,
} from '../../../electron/engine/models/flux-dit.js';
import { GOLDEN_DIR, checkpointCandidates, fluxDitGoldenInputs } from '../../helpers/golden.js';

const GROUP_DIR = path.join(GOLDEN_DIR, 'uno', 'flux_dit');
const [TINY] = checkpointCandidates(GROUP_DIR);

const caseInputs = fluxDitGoldenInputs;

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const ck = Checkpoint.open(TINY);
const cfg = readFluxDitConfig(ck);
const BLOCKS = cfg.depth + cfg.depthSingle;
const inputs = caseInputs();
let whole: Float32Array;

beforeAll(async () => {
  const dit = await FluxDit.create(ck, { ep: 'cpu' });
  try {
    whole = await dit.forward(inputs);
  } finally {
    await dit.release();
  }
});

describe('FLUX DiT block groups on CPU', () => {
  test('the tiny checkpoint has both block kinds (so groups cross the double → single boundary)', () => {
    expect(cfg.depth).toBeGreaterThan(0);
    expect(cfg.depthSingle).toBeGreaterThan(0);
    expect(BLOCKS).toBeGreaterThanOrEqual(4);
  });

  for (const g of [2, 3, BLOCKS]) {
    test(`${g} groups, streamed: same output as the whole network, one group session at a time`, async () => {
      resetSessionStats();
      const dit = await FluxDit.create(ck, { ep: 'cpu', streamGroups: g });
      try {
        // The planner's split of the same bytes.
        const bytes = storedBlockBytes(ck, fluxDitBlockPaths(cfg));
        expect(dit.groups).toEqual(splitBlockGroups(bytes, g));
        expect(Math.max(...dit.groups.map((x) => x.bytes))).toBe(largestBlockGroup(bytes, g));
        expect(dit.groups.length).toBe(g);
        expect(dit.sessionCounts.created).toBe(0); // nothing loaded until a forward

        const out = await dit.forward(inputs);
        const diff = maxAbsDiff(out, whole);
        console.log(`flux dit ${g} groups streamed: max |streamed − whole| = ${diff.toExponential(2)}`);
        expect(diff).toBeLessThanOrEqual(1e-6);
        // A second step reuses nothing but gives the same numbers.
        expect(maxAbsDiff(await dit.forward(inputs), out)).toBe(0);

        const counts = dit.sessionCounts;
        expect(counts.peakLive).toBe(1);
        expect(counts.live).toBe(0);
        expect(counts.created).toBe(2 * g);
        expect(counts.released).toBe(2 * g);
        expect(sessionStats.creates).toBe(2 * g);
        expect(sessionStats.releases).toBe(2 * g);
      } finally {
        await dit.release();
      }
    });
  }

  test('3 groups kept resident: same output, every group session created once and released at the end', async () => {
    const dit = await FluxDit.create(ck, { ep: 'cpu', streamGroups: 3, keepGroupsResident: true });
    try {
      expect(dit.sessionCounts).toMatchObject({ live: 3, created: 3 });
      expect(maxAbsDiff(await dit.forward(inputs), whole)).toBeLessThanOrEqual(1e-6);
      expect(maxAbsDiff(await dit.forward(inputs), whole)).toBeLessThanOrEqual(1e-6);
      expect(dit.sessionCounts).toMatchObject({ live: 3, created: 3, released: 0 });
    } finally {
      await dit.release();
    }
    expect(dit.sessionCounts).toMatchObject({ live: 0, released: 3 });
  });

  test('planner block sizes decide the split: a heavy first block gets a group of its own', async () => {
    const heavyFirst = [100, 1, 1, 1].slice(0, BLOCKS).concat(new Array<number>(Math.max(0, BLOCKS - 4)).fill(1));
    const dit = await FluxDit.create(ck, { ep: 'cpu', streamGroups: 2, blockBytes: heavyFirst });
    try {
      expect(dit.groups.map((x) => [x.first, x.end])).toEqual([[0, 1], [1, BLOCKS]]);
      expect(maxAbsDiff(await dit.forward(inputs), whole)).toBeLessThanOrEqual(1e-6);
    } finally {
      await dit.release();
    }
    await expect(FluxDit.create(ck, { ep: 'cpu', streamGroups: 2, blockBytes: [1, 2] }))
      .rejects.toThrow(`FLUX DiT: 2 block sizes given for ${BLOCKS} blocks`);
  });

  test('concurrent forwards are serialized: still one group session at a time', async () => {
    const dit = await FluxDit.create(ck, { ep: 'cpu', streamGroups: 2 });
    try {
      const [a, b] = await Promise.all([dit.forward(inputs), dit.forward(inputs)]);
      expect(maxAbsDiff(a, whole)).toBeLessThanOrEqual(1e-6);
      expect(maxAbsDiff(b, whole)).toBeLessThanOrEqual(1e-6);
      expect(dit.sessionCounts.peakLive).toBe(1);
    } finally {
      await dit.release();
    }
  });

  test('group graphs: hand-over names, weights of their own blocks only, node names are module paths', () => {
    const g0 = buildFluxDitGroup(ck, { first: 0, end: 1 }, { config: cfg });
    expect(g0.outputNames).toEqual(['img_hidden.1', 'txt_hidden.1', FLUX_DIT_GROUP_IO.vecAct]);
    const mid = buildFluxDitGroup(ck, { first: 1, end: cfg.depth + 1 }, { config: cfg });
    expect(mid.inputNames).toEqual([FLUX_DIT_GROUP_IO.vecAct, FLUX_DIT_IO.ropeCos, FLUX_DIT_IO.ropeSin, 'img_hidden.1', 'txt_hidden.1']);
    expect(mid.outputNames).toEqual([`joint_hidden.${cfg.depth + 1}`]);
    const lastGroup = buildFluxDitGroup(ck, { first: BLOCKS - 1, end: BLOCKS }, { config: cfg });
    expect(lastGroup.inputNames).toEqual([FLUX_DIT_GROUP_IO.vecAct, FLUX_DIT_IO.ropeCos, FLUX_DIT_IO.ropeSin, `joint_hidden.${BLOCKS - 1}`, FLUX_DIT_GROUP_IO.nTxt, FLUX_DIT_GROUP_IO.nImg]);
    expect(lastGroup.outputNames).toEqual([FLUX_DIT_IO.output]);

    const model = decodeModel(mid.bytes);
    const weights = model.graph.initializer.filter((t) => (t.externalData?.length ?? 0) > 0).map((t) => t.name);
    expect(weights.length).toBeGreaterThan(0);
    expect(weights.filter((k) => !/^(double_blocks\.[1-9]\d*|single_blocks\.0)\./.test(k))).toEqual([]);
    const nodes = model.graph.node.map((n) => n.name);
    expect(nodes).toContain('/double_blocks.1/img_attn/qkv/MatMul');
    expect(nodes.some((n) => n.startsWith('/single_blocks.0/'))).toBe(true);
    expect(nodes.some((n) => n.startsWith('/double_blocks.0/') || n.startsWith('/time_in/') || n.startsWith('/final_layer/'))).toBe(false);
    expect(() => buildFluxDitGroup(ck, { first: 2, end: 2 }, { config: cfg })).toThrow(`FLUX DiT block group [2, 2) is not a non-empty range of the ${BLOCKS} blocks`);
  });
});

const webgpuWorks = (await probeExecutionProviders()).some((p) => p.ep === 'webgpu' && p.works);

describe.skipIf(!webgpuWorks)('FLUX DiT block groups on WebGPU', () => {
  test('2 groups streamed on WebGPU equal the whole network on WebGPU', async () => {
    const outs: Float32Array[] = [];
    for (const streamGroups of [1, 2]) {
      const dit = await FluxDit.create(ck, { ep: 'webgpu', streamGroups });
      try {
        outs.push(await dit.forward(inputs));
        expect(dit.sessionCounts.peakLive).toBe(1);
      } finally {
        await dit.release();
      }
    }
    const diff = maxAbsDiff(outs[1], outs[0]);
    console.log(`flux dit 2 groups streamed on webgpu: max |streamed − whole| = ${diff.toExponential(2)}`);
    expect(diff).toBeLessThanOrEqual(1e-5);
    // And against the CPU whole network within the golden tolerance.
    expect(maxAbsDiff(outs[1], whole)).toBeLessThan(1e-3);
  });
});
