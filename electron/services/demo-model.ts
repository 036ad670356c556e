// The built-in demo model: the tiny UNO kit (seeded random weights in the real Hugging Face layouts)
// written into the app's data folder on first use. Atomic: the kit is written into a temporary
// sibling folder and renamed into place, so a crash or a second app instance never leaves a
// half-written kit that looks installed. Idempotent: an installed kit (its marker file) is kept.
import fs from 'node:fs';
import path from 'node:path';
import { TINY_KIT_MARKER, writeTinyUnoKit } from '../engine/kit/tiny-uno-kit.js';

export function demoKitInstalled(dir: string): boolean {
  return fs.existsSync(path.join(dir, TINY_KIT_MARKER));
}

function uniqueSibling(dir: string, tag: string): string {
  return `${dir}.${tag}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Remove leftovers of interrupted installs (`<dir>.installing-*`, `<dir>.stale-*`). */
function removeLeftovers(dir: string): void {
  const parent = path.dirname(dir);
  const base = path.basename(dir);
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(parent);
  } catch {
    return;
  }
  for (const e of entries) {
    if (e.startsWith(`${base}.installing-`) || e.startsWith(`${base}.stale-`)) {
      // Another process may be installing right now: only clear folders older than a minute.
      const p = path.join(parent, e);
      try {
        if (Date.now() - fs.statSync(p).mtimeMs > 60_000) fs.rmSync(p, { recursive: true, force: true });
      } catch { /* gone already */ }
    }
  }
}

/**
 * Make sure the demo kit is installed in `dir`; returns whether this call wrote it. Concurrent calls
 * in one process share one install.
 */
export async function installDemoKit(dir: string): Promise<{ installed: boolean }> {
  const target = path.resolve(dir);
  const running = inFlight.get(target);
  if (running) return running;
  const job = (async () => {
    if (demoKitInstalled(target)) return { installed: false };
    fs.mkdirSync(path.dirname(target), { recursive: true });
    removeLeftovers(target);
    const tmp = uniqueSibling(target, 'installing');
    try {
      await writeTinyUnoKit(tmp);
      // A folder without the marker (an interrupted old-style install, stray files) is moved aside.
      if (fs.existsSync(target) && !demoKitInstalled(target)) {
        const stale = uniqueSibling(target, 'stale');
        fs.renameSync(target, stale);
        fs.rmSync(stale, { recursive: true, force: true });
      }
      try {
        fs.renameSync(tmp, target);
      } catch (e) {
        // Another app instance finished first: its kit is as good as ours.
        if (demoKitInstalled(target)) return { installed: false };
        throw e;
      }
      return { installed: true };
    } catch (e) {
      throw new Error(`could not install the demo model into ${target}: ${(e as Error).message}`, { cause: e });
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  })();
  inFlight.set(target, job);
  try {
    return await job;
  } finally {
    inFlight.delete(target);
  }
}

const inFlight = new Map<string, Promise<{ installed: boolean }>>();
