// Turning a browser File into an `importReference` / `addLora` input: on the desktop the preload may
// expose the file's path (`window.umoFiles.pathForFile`, Electron's webUtils.getPathForFile), which
// avoids copying bytes over IPC; otherwise (web mode, pasted images) the bytes are read.

interface DesktopFileBridge {
  pathForFile(file: File): string;
}

declare global {
  interface Window {
    umoFiles?: DesktopFileBridge;
  }
}

export type FileInput = { path: string } | { name: string; bytes: Uint8Array };

/** The file's path on disk when the desktop preload can tell it, else null. */
export function desktopPathOf(file: File): string | null {
  try {
    const p = window.umoFiles?.pathForFile(file);
    return typeof p === 'string' && p.length > 0 ? p : null;
  } catch {
    return null;
  }
}

/** A name for files without one (clipboard images are often called "image.png" or nothing). */
export function fileDisplayName(file: File, fallback = 'pasted-image'): string {
  if (file.name) return file.name.slice(0, 255);
  const ext = file.type.startsWith('image/') ? file.type.slice(6).replace('jpeg', 'jpg') : 'png';
  return `${fallback}.${ext}`;
}

export async function fileToInput(file: File): Promise<FileInput> {
  const path = desktopPathOf(file);
  if (path) return { path };
  return { name: fileDisplayName(file), bytes: new Uint8Array(await file.arrayBuffer()) };
}

/** The message of any thrown value, without the "Error invoking remote method" noise Electron adds. */
export function errorMessage(e: unknown): string {
  const raw = e instanceof Error ? e.message : typeof e === 'string' ? e : JSON.stringify(e);
  return raw.replace(/^Error invoking remote method '[^']*': (Error: )?/, '');
}
