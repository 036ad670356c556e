// Run one benchmark case in a child Node process (so its peak RSS is its own) and read back the
// single `<prefix><JSON>` line it prints on stdout.
import { spawn } from 'node:child_process';

export function runCaseProcess<T>(script: string, arg: unknown, prefix: string, id: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, JSON.stringify(arg)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith(prefix));
      if (code === 0 && line) {
        resolve(JSON.parse(line.slice(prefix.length)) as T);
        return;
      }
      const why = signal === 'SIGKILL' ? `killed after ${timeoutMs / 1000} s` : `exit ${code ?? signal}`;
      // Dawn prints two harmless "Warning: max..." lines on every WebGPU start.
      const tail = stderr.trim().split('\n').filter((l) => !l.startsWith('Warning: max')).slice(-5).join(' | ');
      reject(new Error(`${id}: case process failed (${why})${tail ? `: ${tail}` : ''}`));
    });
  });
}
