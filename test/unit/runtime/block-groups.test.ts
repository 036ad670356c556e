// Block groups: the split the memory planner prices (contiguous, about equal bytes, never more
// groups than asked, the planner's largest group), and the runner that chains group graphs by
// tensor name: streaming holds one session at a time and releases it even when a run or a
// session creation fails; resident groups are released on release() or when a later one fails.
import { describe, expect, test } from 'vitest';
import ort from 'onnxruntime-node';
import { GraphBuilder } from '../../../electron/engine/runtime/graph.js';
import { resetSessionStats, sessionStats } from '../../../electron/engine/runtime/sessions.js';
import { BlockGroupRunner, blockStateName, planBlockGroups, splitBlockGroups, storedBlockBytes } from '../../../electron/engine/runtime/block-groups.js';
import { largestBlockGroup } from '../../../electron/engine/runtime/memory-planner.js';

describe('splitBlockGroups', () => {
  test('equal blocks split evenly; a heavy block closes a group early', () => {
    expect(splitBlockGroups([1, 1, 1, 1], 2).map((g) => [g.first, g.end, g.bytes])).toEqual([[0, 2, 2], [2, 4, 2]]);
    expect(splitBlockGroups([5, 1, 1, 1, 1, 1], 2).map((g) => [g.first, g.end])).toEqual([[0, 1], [1, 6]]);
    expect(splitBlockGroups([1, 1, 1], 3).map((g) => [g.first, g.end])).toEqual([[0, 1], [1, 2], [2, 3]]);
    // More groups than blocks: one per block, not more.
    expect(splitBlockGroups([1, 2], 5)).toHaveLength(2);
    expect(splitBlockGroups([], 3)).toEqual([]);
    expect(() => splitBlockGroups([1], 0)).toThrow('block groups must be a positive integer, got 0');
  });

  test('contiguous cover of every block, at most G groups, largest = the planner\'s largestBlockGroup', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let trial = 0; trial < 200; trial++) {
      const blocks = Array.from({ length: 1 + Math.floor(rand() * 60) }, () => Math.floor(1 + rand() * 1000));
      const g = 1 + Math.floor(rand() * 12);
      const groups = splitBlockGroups(blocks, g);
      expect(groups.length).toBeLessThanOrEqual(g);
      expect(groups[0].first).toBe(0);
      expect(groups[groups.length - 1].end).toBe(blocks.length);
      groups.forEach((x, i) => {
        expect(x.end).toBeGreaterThan(x.first);
        if (i > 0) expect(x.first).toBe(groups[i - 1].end);
        expect(x.bytes).toBe(blocks.slice(x.first, x.end).reduce((a, b) => a + b, 0));
      });
      expect(Math.max(...groups.map((x) => x.bytes))).toBe(largestBlockGroup(blocks, g));
    }
  });

  test('planBlockGroups: one group below 2, block count checked', () => {
    expect(planBlockGroups(3, 1, [1, 2, 3], 'net')).toEqual([{ first: 0, end: 3, bytes: 6 }]);
    expect(() => planBlockGroups(3, 2, [1, 2], 'net')).toThrow('net: 2 block sizes given for 3 blocks');
  });

  test('storedBlockBytes sums the tensors under each block path', () => {
    const info: Record<string, number> = { 'a.0.w': 10, 'a.0.b': 2, 'a.1.w': 7, 'a.10.w': 100, 'head.w': 50 };
    const w = { keys: () => Object.keys(info), info: (k: string) => ({ byteLength: info[k] }) } as unknown as Parameters<typeof storedBlockBytes>[0];
    expect(storedBlockBytes(w, ['a.0', 'a.1', 'a.10'])).toEqual([12, 7, 100]);
  });
});

/** Group 0: h = x + 1. Group 1: y = Reshape(h, [-1, 2]) · 2 (fails for an odd element count). */
function twoGroups() {
  const b0 = new GraphBuilder('group0');
  const x = b0.input('x', 'float32', ['n']);
  b0.output(b0.op('Add', [x, b0.floats([1], [])]), blockStateName('h', 1), 'float32', ['n']);
  const b1 = new GraphBuilder('group1');
  const h = b1.input(blockStateName('h', 1), 'float32', ['n']);
  const r = b1.op('Reshape', [h, b1.ints([-1, 2])]);
  b1.output(b1.op('Mul', [r, b1.floats([2], [])]), 'y', 'float32', ['m', 2]);
  return [b0.build(), b1.build()];
}

const feed = (n: number) => ({ x: new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => i), [n]) });

describe('BlockGroupRunner', () => {
  test('chains groups by name; streaming: one session at a time, none left', async () => {
    resetSessionStats();
    const r = await BlockGroupRunner.create(twoGroups(), { ep: 'cpu', resident: false });
    const out = await r.run(feed(4), ['y']);
    expect(Array.from(out.y.data as Float32Array)).toEqual([2, 4, 6, 8]);
    expect(out.y.dims).toEqual([2, 2]);
    expect(r.counts).toEqual({ live: 0, peakLive: 1, created: 2, released: 2 });
    expect([sessionStats.creates, sessionStats.releases]).toEqual([2, 2]);
    await r.release();
  });

  test('a run that fails in group 1 releases its session and the runner stays usable', async () => {
    resetSessionStats();
    const r = await BlockGroupRunner.create(twoGroups(), { ep: 'cpu', resident: false });
    await expect(r.run(feed(3), ['y'])).rejects.toThrow(/group1 on cpu: run failed/);
    expect(r.counts).toMatchObject({ live: 0, peakLive: 1, created: 2, released: 2 });
    expect(sessionStats.creates).toBe(sessionStats.releases);
    expect(Array.from((await r.run(feed(2), ['y'])).y.data as Float32Array)).toEqual([2, 4]);
    expect(r.counts.live).toBe(0);
    await r.release();
    await expect(r.run(feed(2), ['y'])).rejects.toThrow('group0: block groups were already released');
  });

  test('a missing hand-over tensor is named', async () => {
    const [, g1] = twoGroups();
    const r = await BlockGroupRunner.create([g1], { ep: 'cpu', resident: false });
    await expect(r.run(feed(2), ['y'])).rejects.toThrow('group1: input "h.1" is neither a feed nor an output of an earlier group (have: x)');
    expect(r.counts.created).toBe(0);
    await r.release();
  });

  test('a group whose session cannot be created: streaming leaves nothing open; resident releases the earlier groups', async () => {
    const [g0, g1] = twoGroups();
    const broken = { ...g1, name: 'broken', bytes: Uint8Array.from([1, 2, 3, 4]) }; // not a ModelProto

    const streaming = await BlockGroupRunner.create([g0, broken], { ep: 'cpu', resident: false });
    await expect(streaming.run(feed(2), ['y'])).rejects.toThrow(/broken on cpu: session creation failed/);
    expect(streaming.counts).toMatchObject({ live: 0, created: 1, released: 1 });
    await streaming.release();

    resetSessionStats();
    await expect(BlockGroupRunner.create([g0, broken], { ep: 'cpu', resident: true })).rejects.toThrow(/broken on cpu: session creation failed/);
    expect(sessionStats.releases).toBe(1); // group 0's session, the only one created
  });

  test('resident: sessions made once, kept across runs, released by release()', async () => {
    resetSessionStats();
    const r = await BlockGroupRunner.create(twoGroups(), { ep: 'cpu', resident: true });
    expect(r.counts).toMatchObject({ live: 2, created: 2 });
    await r.run(feed(2), ['y']);
    await expect(r.run(feed(3), ['y'])).rejects.toThrow(/run failed/);
    expect(Array.from((await r.run(feed(2), ['y'])).y.data as Float32Array)).toEqual([2, 4]);
    expect(r.counts).toMatchObject({ live: 2, created: 2, released: 0 });
    await r.release();
    expect(r.counts).toMatchObject({ live: 0, released: 2 });
    expect([sessionStats.creates, sessionStats.releases]).toEqual([2, 2]);
  });
});
