// Drag-and-drop payload types inside the app (files come as dataTransfer.files).
export const DRAG_SLOT = 'application/x-umo-slot';
export const DRAG_RESULT = 'application/x-umo-result';

export function hasType(dt: DataTransfer | null, type: string): boolean {
  return !!dt && Array.from(dt.types).includes(type);
}

export function isAcceptedDrag(dt: DataTransfer | null): boolean {
  return hasType(dt, 'Files') || hasType(dt, DRAG_SLOT) || hasType(dt, DRAG_RESULT);
}

/** Image files of a clipboard or drop (non-image files are kept too: the app's check names the problem). */
export function filesOf(dt: DataTransfer | null): File[] {
  return dt ? Array.from(dt.files) : [];
}
