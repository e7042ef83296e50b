// Box geometry of the editor, in the image's displayed (EXIF-applied) pixel space: [x, y, w, h].

export type Bbox = [number, number, number, number];
/** Which part of a box the pointer holds: the body (move), a corner or an edge (resize). */
export type Handle = "move" | "nw" | "n" | "ne" | "e" | "se" | "s" | "sw" | "w";

export const HANDLES: Exclude<Handle, "move">[] = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];
/** The smallest box the editor makes (the backend refuses a zero size). */
export const MIN_SIZE = 1;

const round = (v: number) => Math.round(v * 100) / 100;

/** Where a handle sits on the box. */
export function handlePoint([x, y, w, h]: Bbox, handle: Exclude<Handle, "move">): [number, number] {
  const hx = handle.includes("w") ? x : handle.includes("e") ? x + w : x + w / 2;
  const hy = handle.includes("n") ? y : handle.includes("s") ? y + h : y + h / 2;
  return [hx, hy];
}

/**
 * The box after dragging `handle` by (dx, dy) image pixels, kept inside the image (width × height) and at
 * least MIN_SIZE: a moved box keeps its size, a resized one keeps the opposite edges where they were.
 */
export function dragBox(start: Bbox, handle: Handle, dx: number, dy: number, width: number, height: number): Bbox {
  const [x, y, w, h] = start;
  if (handle === "move") {
    const nx = Math.min(Math.max(x + dx, 0), Math.max(width - w, 0));
    const ny = Math.min(Math.max(y + dy, 0), Math.max(height - h, 0));
    return [round(nx), round(ny), w, h];
  }
  let left = x;
  let top = y;
  let right = x + w;
  let bottom = y + h;
  if (handle.includes("w")) left = Math.min(Math.max(x + dx, 0), right - MIN_SIZE);
  if (handle.includes("e")) right = Math.max(Math.min(x + w + dx, width), left + MIN_SIZE);
  if (handle.includes("n")) top = Math.min(Math.max(y + dy, 0), bottom - MIN_SIZE);
  if (handle.includes("s")) bottom = Math.max(Math.min(y + h + dy, height), top + MIN_SIZE);
  return [round(left), round(top), round(right - left), round(bottom - top)];
}

/** The box spanned by two points (a new box being drawn), inside the image. */
export function spanBox(ax: number, ay: number, bx: number, by: number, width: number, height: number): Bbox {
  const clampX = (v: number) => Math.min(Math.max(v, 0), width);
  const clampY = (v: number) => Math.min(Math.max(v, 0), height);
  const [x0, x1] = [clampX(Math.min(ax, bx)), clampX(Math.max(ax, bx))];
  const [y0, y1] = [clampY(Math.min(ay, by)), clampY(Math.max(ay, by))];
  return [round(x0), round(y0), round(x1 - x0), round(y1 - y0)];
}

export function sameBox(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) < 0.005);
}
