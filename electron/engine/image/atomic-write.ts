// Crash-safe file writes for outputs: write a temp file in the destination folder, fsync it, rename it over
// the destination (atomic on POSIX and on NTFS for same-volume renames), then fsync the folder where the
// platform allows. A crash leaves either the old file or the complete new one, never a partial file.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

export async function writeFileAtomic(file: string, bytes: Uint8Array): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.partial`);
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(tmp, 'wx');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'the folder does not exist' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (e as Error).message;
    throw new Error(`Cannot write ${file}: ${why}`, { cause: e });
  }
  try {
    try {
      // FileHandle.writeFile loops until every byte is written.
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw new Error(`Cannot write ${file}: ${(e as Error).message}`, { cause: e });
  }
  await syncDirectory(dir);
}

/** Persist the rename itself. Not possible on Windows (directories cannot be opened): best effort. */
async function syncDirectory(dir: string): Promise<void> {
  let h: fs.FileHandle | undefined;
  try {
    h = await fs.open(dir, 'r');
    await h.sync();
  } catch {
    // ignored: the data is already durable; only the directory entry may be lost on power failure
  } finally {
    await h?.close().catch(() => undefined);
  }
}
