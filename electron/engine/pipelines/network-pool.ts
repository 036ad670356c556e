// Networks kept alive between phases and between jobs when a memory plan is "all resident": the
// second generation with the same models skips every session creation. The pool lives as long as
// the engine process; a job with a different plan (other files, precision, device or residency)
// first releases what it will not use, so two plans never sit in memory together.

export interface PooledNetwork {
  release(): Promise<void>;
}

export class NetworkPool {
  private readonly held = new Map<string, PooledNetwork>();

  /** Keys currently held (for tests and diagnostics). */
  keys(): string[] {
    return [...this.held.keys()];
  }

  get(key: string): PooledNetwork | undefined {
    return this.held.get(key);
  }

  /** Keep `net` under `key` (a network already held under that key is released first). */
  async put(key: string, net: PooledNetwork): Promise<void> {
    const old = this.held.get(key);
    if (old && old !== net) await old.release();
    this.held.set(key, net);
  }

  /** Release and forget the network under `key`, if any. */
  async drop(key: string): Promise<void> {
    const net = this.held.get(key);
    if (!net) return;
    this.held.delete(key);
    await net.release();
  }

  /** Release every network whose key is not in `keep`. */
  async retainOnly(keep: ReadonlySet<string>): Promise<void> {
    for (const key of [...this.held.keys()]) if (!keep.has(key)) await this.drop(key);
  }

  async releaseAll(): Promise<void> {
    await this.retainOnly(new Set());
  }
}

/** The engine process's pool (one job runs at a time, so one pool is enough). */
export const residentNetworks = new NetworkPool();
