// Pure helpers of the embeddings map: the view transform, lasso/box hit tests over typed arrays,
// and packed RGBA colours for the pixel buffer. No DOM here, so Vitest runs them in node.

/** data -> CSS pixels: sx = x * scale + tx, sy = ty - y * scale (y grows upwards on the map). */
export interface ViewTransform {
  scale: number;
  tx: number;
  ty: number;
}

export function fitTransform(xs: Float32Array, ys: Float32Array, width: number, height: number, margin = 0.08): ViewTransform {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i], y = ys[i];
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  if (!Number.isFinite(x0)) return { scale: 1, tx: width / 2, ty: height / 2 };
  const dx = Math.max(x1 - x0, 1e-9), dy = Math.max(y1 - y0, 1e-9);
  const scale = Math.min((width * (1 - 2 * margin)) / dx, (height * (1 - 2 * margin)) / dy);
  return { scale, tx: width / 2 - ((x0 + x1) / 2) * scale, ty: height / 2 + ((y0 + y1) / 2) * scale };
}

/** Zoom by `factor` keeping the data point under (px, py) where it is. */
export function zoomAt(t: ViewTransform, px: number, py: number, factor: number): ViewTransform {
  return { scale: t.scale * factor, tx: px - (px - t.tx) * factor, ty: py - (py - t.ty) * factor };
}

export type Polygon = readonly (readonly [number, number])[];

/** Indices of the points inside the polygon (even-odd rule), polygon given in CSS pixels. */
export function pointsInPolygon(xs: Float32Array, ys: Float32Array, t: ViewTransform, polygon: Polygon): Int32Array {
  if (polygon.length < 3) return new Int32Array(0);
  // the polygon in data coordinates: one inverse transform instead of one forward per point
  const px = polygon.map(([sx]) => (sx - t.tx) / t.scale);
  const py = polygon.map(([, sy]) => (t.ty - sy) / t.scale);
  const bx0 = Math.min(...px), bx1 = Math.max(...px), by0 = Math.min(...py), by1 = Math.max(...py);
  const out: number[] = [];
  const n = px.length;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i], y = ys[i];
    if (x < bx0 || x > bx1 || y < by0 || y > by1) continue;
    let inside = false;
    for (let a = 0, b = n - 1; a < n; b = a++) {
      if (py[a] > y !== py[b] > y && x < ((px[b] - px[a]) * (y - py[a])) / (py[b] - py[a]) + px[a]) inside = !inside;
    }
    if (inside) out.push(i);
  }
  return Int32Array.from(out);
}

export function pointsInBox(xs: Float32Array, ys: Float32Array, t: ViewTransform, a: readonly [number, number], b: readonly [number, number]): Int32Array {
  const x0 = (Math.min(a[0], b[0]) - t.tx) / t.scale, x1 = (Math.max(a[0], b[0]) - t.tx) / t.scale;
  const y0 = (t.ty - Math.max(a[1], b[1])) / t.scale, y1 = (t.ty - Math.min(a[1], b[1])) / t.scale;
  const out: number[] = [];
  for (let i = 0; i < xs.length; i++) if (xs[i] >= x0 && xs[i] <= x1 && ys[i] >= y0 && ys[i] <= y1) out.push(i);
  return Int32Array.from(out);
}

/** The point nearest to (sx, sy) in CSS pixels within `radius`, or -1. */
export function nearest(xs: Float32Array, ys: Float32Array, t: ViewTransform, sx: number, sy: number, radius: number): number {
  let best = -1, bestD = radius * radius;
  for (let i = 0; i < xs.length; i++) {
    const dx = xs[i] * t.scale + t.tx - sx, dy = t.ty - ys[i] * t.scale - sy;
    const d = dx * dx + dy * dy;
    if (d <= bestD) {
      bestD = d;
      best = i;
    }
  }
  return best;
}

/** RGBA packed for a little-endian Uint32Array view of ImageData (bytes r, g, b, a). */
export function packRgb(r: number, g: number, b: number): number {
  return ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

export function hslToRgb(h: number, s: number, l: number): [number, number, number] {
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

/** Map the values of `ids` (ascending) onto `pointIds` (ascending, a subset): index into ids, or -1. */
export function alignIds(pointIds: Float64Array, ids: readonly number[]): Int32Array {
  const out = new Int32Array(pointIds.length).fill(-1);
  let j = 0;
  for (let i = 0; i < pointIds.length; i++) {
    while (j < ids.length && ids[j] < pointIds[i]) j++;
    if (j < ids.length && ids[j] === pointIds[i]) out[i] = j;
  }
  return out;
}
