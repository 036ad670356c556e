// A network split into contiguous groups of its repeated blocks, one ONNX graph per group, run in
// sequence every forward. The memory planner prices the largest group (`largestBlockGroup`), so the
// split here is the one it assumes; the runner either keeps every group's session (resident) or
// streams them: create → run → release, then the next group, so at most one group's weights are
// loaded at a time.
import type ort from 'onnxruntime-node';
import type { BuiltModel } from './graph.js';
import type { Weights } from './safetensors.js';
import { type ExecutionProvider, type NetSession, type SessionOptions, createSession } from './sessions.js';

/** Blocks [first, end) of a network's repeated blocks, in execution order. */
export interface BlockRange {
  readonly first: number;
  readonly end: number;
}

/** A range of blocks and their weight bytes. */
export interface BlockGroup extends BlockRange {
  readonly bytes: number;
}

/**
 * Split block sizes (in execution order) into at most `groups` contiguous groups of about equal
 * bytes: a group is closed before the block that would take it past total/groups (a group never
 * stays empty). Fewer groups come back when a few large blocks fill the target early; never more.
 */
export function splitBlockGroups(blockBytes: readonly number[], groups: number): BlockGroup[] {
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`block groups must be a positive integer, got ${groups}`);
  const total = blockBytes.reduce((a, b) => a + b, 0);
  const target = total / groups;
  const out: BlockGroup[] = [];
  let first = 0;
  let current = 0;
  blockBytes.forEach((b, i) => {
    if (current > 0 && current + b > target && out.length + 1 < groups) {
      out.push({ first, end: i, bytes: current });
      first = i;
      current = 0;
    }
    current += b;
  });
  if (blockBytes.length > 0) out.push({ first, end: blockBytes.length, bytes: current });
  return out;
}

/** Name of a hidden state handed from one group to the next: `name` as it enters block `block`. */
export function blockStateName(name: string, block: number): string {
  return `${name}.${block}`;
}

/** Sessions created for groups of one `BlockGroupRunner` and not yet released. */
export interface GroupSessionCounts {
  live: number;
  /** Most sessions live at the same time since the runner was created. */
  peakLive: number;
  created: number;
  released: number;
}

export interface BlockGroupRunnerOptions extends SessionOptions {
  /** Keep every group's session between forwards (no per-forward creation; all weights loaded). */
  resident: boolean;
}

/**
 * Runs a sequence of graphs over one shared map of named tensors: each graph reads the names it
 * declares as inputs (the caller's feeds or an earlier graph's outputs) and adds its outputs to
 * the map. Forwards are serialized, so a streaming runner never holds two group sessions.
 */
export class BlockGroupRunner {
  readonly counts: GroupSessionCounts = { live: 0, peakLive: 0, created: 0, released: 0 };
  private resident: Array<NetSession | null>;
  private queue: Promise<unknown> = Promise.resolve();
  private released = false;

  private constructor(readonly graphs: readonly BuiltModel[], private readonly opts: BlockGroupRunnerOptions) {
    this.resident = graphs.map(() => null);
  }

  /** With `resident`, creates every session now (releasing the ones made when a later one fails). */
  static async create(graphs: readonly BuiltModel[], opts: BlockGroupRunnerOptions): Promise<BlockGroupRunner> {
    if (graphs.length === 0) throw new Error('BlockGroupRunner needs at least one graph');
    const r = new BlockGroupRunner(graphs, opts);
    if (opts.resident) {
      try {
        for (let i = 0; i < graphs.length; i++) r.resident[i] = await r.open(i);
      } catch (e) {
        await r.release();
        throw e;
      }
    }
    return r;
  }

  get ep(): ExecutionProvider {
    return this.opts.ep;
  }

  private async open(i: number): Promise<NetSession> {
    const { resident: _resident, ...sessionOpts } = this.opts;
    const s = await createSession(this.graphs[i], sessionOpts);
    this.counts.created++;
    this.counts.live++;
    this.counts.peakLive = Math.max(this.counts.peakLive, this.counts.live);
    return s;
  }

  private async close(s: NetSession): Promise<void> {
    this.counts.live--;
    this.counts.released++;
    await s.release();
  }

  /** Run every group in order; returns the requested names from the final map. */
  run(feeds: Readonly<Record<string, ort.Tensor>>, outputs: readonly string[]): Promise<Record<string, ort.Tensor>> {
    const next = this.queue.then(() => this.runNow(feeds, outputs));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async runNow(feeds: Readonly<Record<string, ort.Tensor>>, outputs: readonly string[]): Promise<Record<string, ort.Tensor>> {
    if (this.released) throw new Error(`${this.graphs[0].name}: block groups were already released`);
    const state: Record<string, ort.Tensor> = { ...feeds };
    for (let i = 0; i < this.graphs.length; i++) {
      const g = this.graphs[i];
      const groupFeeds: Record<string, ort.Tensor> = {};
      for (const n of g.inputNames) {
        const t = state[n];
        if (!t) throw new Error(`${g.name}: input "${n}" is neither a feed nor an output of an earlier group (have: ${Object.keys(state).join(', ')})`);
        groupFeeds[n] = t;
      }
      const session = this.resident[i] ?? await this.open(i);
      try {
        Object.assign(state, await session.run(groupFeeds, g.outputNames));
      } finally {
        if (!this.resident[i]) await this.close(session);
      }
    }
    const out: Record<string, ort.Tensor> = {};
    for (const n of outputs) {
      if (!state[n]) throw new Error(`${this.graphs[this.graphs.length - 1].name}: no group produced "${n}"`);
      out[n] = state[n];
    }
    return out;
  }

  /** Release resident sessions (waits for a forward in flight). */
  async release(): Promise<void> {
    this.released = true;
    await this.queue;
    const open = this.resident.filter((s): s is NetSession => s !== null);
    this.resident = this.resident.map(() => null);
    for (const s of open) await this.close(s);
  }
}

/**
 * Stored bytes of each block (tensors under `<path>.`), in the order of `blockPaths`: the split a
 * network uses when the caller has no planner figures (same algorithm, on-disk sizes).
 */
export function storedBlockBytes(w: Pick<Weights, 'keys' | 'info'>, blockPaths: readonly string[]): number[] {
  const index = new Map(blockPaths.map((p, i) => [p, i] as const));
  const bytes = blockPaths.map(() => 0);
  for (const k of w.keys()) {
    // Block paths are "<name>.<n>": the key's first two segments.
    const m = /^([^.]+\.\d+)\./.exec(k);
    const i = m ? index.get(m[1]) : undefined;
    if (i !== undefined) bytes[i] += w.info(k).byteLength;
  }
  return bytes;
}

/** The groups to build: `streamGroups` ≤ 1 is one group of every block; `blockBytes` must have one entry per block. */
export function planBlockGroups(blockCount: number, streamGroups: number, blockBytes: readonly number[], what: string): BlockGroup[] {
  if (blockBytes.length !== blockCount) {
    throw new Error(`${what}: ${blockBytes.length} block sizes given for ${blockCount} blocks`);
  }
  if (streamGroups <= 1) return [{ first: 0, end: blockCount, bytes: blockBytes.reduce((a, b) => a + b, 0) }];
  return splitBlockGroups(blockBytes, streamGroups);
}

export type GraphSummary = Pick<BuiltModel, 'name' | 'parameterCount' | 'externalBytes' | 'nodeCount'>;

/** One summary of a network built as group graphs (a single graph keeps its own name). */
export function summarizeGroupGraphs(graphs: readonly GraphSummary[], name: string): GraphSummary {
  return {
    name: graphs.length === 1 ? graphs[0].name : `${name} (${graphs.length} block groups)`,
    parameterCount: graphs.reduce((a, g) => a + g.parameterCount, 0),
    externalBytes: graphs.reduce((a, g) => a + g.externalBytes, 0),
    nodeCount: graphs.reduce((a, g) => a + g.nodeCount, 0),
  };
}
