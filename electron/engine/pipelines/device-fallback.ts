// Runs each network of a job on the chosen execution provider; when a GPU EP fails to create a
// session or to run, the job continues on CPU for its remaining networks and says so (never a
// silent slowdown). A network run with a `resident` key is kept in a NetworkPool after use (the
// memory plan's "all resident" mode) and found there by the next phase or job.
import { SessionError, type ExecutionProvider } from '../runtime/sessions.js';
import { CancelledError } from './pipeline-context.js';
import type { NetworkPool, PooledNetwork } from './network-pool.js';

export interface Residency {
  pool: NetworkPool;
  /** What identifies the network: files, bake, precision, graph options (the EP is appended). */
  key: string;
}

export class DeviceFallback {
  constructor(public ep: ExecutionProvider, private readonly warn: (message: string) => void) {}

  /**
   * Create a network on the current EP (or take it from the pool), use it, and release it unless
   * it is to stay resident; retry once on CPU if a GPU EP fails.
   */
  async run<N extends PooledNetwork, R>(label: string, create: (ep: ExecutionProvider) => Promise<N>, use: (net: N) => Promise<R>,
    resident?: Residency): Promise<R> {
    try {
      return await this.once(create, use, resident);
    } catch (e) {
      if (this.ep === 'cpu' || e instanceof CancelledError || !(e instanceof SessionError)) throw e;
      this.warn(`${label} failed on ${this.ep} (${e.message.split('\n')[0]}); continuing on CPU`);
      this.ep = 'cpu';
      return this.once(create, use, resident);
    }
  }

  /** The pool key of a resident network on the current EP. */
  residentKey(resident: Residency): string {
    return `${resident.key}@${this.ep}`;
  }

  private async once<N extends PooledNetwork, R>(create: (ep: ExecutionProvider) => Promise<N>, use: (net: N) => Promise<R>,
    resident: Residency | undefined): Promise<R> {
    if (!resident) {
      const net = await create(this.ep);
      try {
        return await use(net);
      } finally {
        await net.release();
      }
    }
    const key = this.residentKey(resident);
    const held = resident.pool.get(key) as N | undefined;
    const net = held ?? await create(this.ep);
    if (!held) await resident.pool.put(key, net);
    try {
      return await use(net);
    } catch (e) {
      // A network that failed mid-run may be in any state: do not keep it for the next job.
      if (!(e instanceof CancelledError)) await resident.pool.drop(key);
      throw e;
    }
  }
}
