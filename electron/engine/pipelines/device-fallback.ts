// Runs each network of a job on the chosen execution provider; when a GPU EP fails to create a
// session or to run, the job continues on CPU for its remaining networks and says so (never a
// silent slowdown).
import { SessionError, type ExecutionProvider } from '../runtime/sessions.js';
import { CancelledError } from './pipeline-context.js';

interface Releasable {
  release(): Promise<void>;
}

export class DeviceFallback {
  constructor(public ep: ExecutionProvider, private readonly warn: (message: string) => void) {}

  /** Create a network on the current EP, use it, release it; retry once on CPU if a GPU EP fails. */
  async run<N extends Releasable, R>(label: string, create: (ep: ExecutionProvider) => Promise<N>, use: (net: N) => Promise<R>): Promise<R> {
    try {
      return await this.once(create, use);
    } catch (e) {
      if (this.ep === 'cpu' || e instanceof CancelledError || !(e instanceof SessionError)) throw e;
      this.warn(`${label} failed on ${this.ep} (${e.message.split('\n')[0]}); continuing on CPU`);
      this.ep = 'cpu';
      return this.once(create, use);
    }
  }

  private async once<N extends Releasable, R>(create: (ep: ExecutionProvider) => Promise<N>, use: (net: N) => Promise<R>): Promise<R> {
    const net = await create(this.ep);
    try {
      return await use(net);
    } finally {
      await net.release();
    }
  }
}
