import { useCallback, useEffect, useRef } from "react";
import { fitTransform, nearest, pointsInBox, pointsInPolygon, zoomAt, type ViewTransform } from "../geometry";

export type Tool = "pan" | "lasso" | "box";

const BACKGROUND = 0xff1a1512; // #12151a as little-endian RGBA
const SELECTED = 0xffffffff;

/** A round dot of radius `r` as pixel offsets into a row-major buffer `width` wide (cached: rebuilt on resize). */
interface Stamp {
  r: number;
  width: number;
  offsets: Int32Array;
  dx: Int16Array;
  dy: Int16Array;
}
const stamps = new Map<number, Stamp>();

function stampFor(r: number, width: number): Stamp {
  const cached = stamps.get(r);
  if (cached && cached.width === width) return cached;
  const dx: number[] = [], dy: number[] = [];
  const r2 = r * r + r;
  for (let y = -r; y <= r; y++) for (let x = -r; x <= r; x++) if (x * x + y * y <= r2) (dx.push(x), dy.push(y));
  const stamp = { r, width, offsets: Int32Array.from(dx, (x, j) => dy[j] * width + x), dx: Int16Array.from(dx), dy: Int16Array.from(dy) };
  stamps.set(r, stamp);
  return stamp;
}

/** Per point colours for the current selection (unselected ones dimmed), and the two drawing orders; built
 * once per change of colours or selection, not per frame. */
interface Palette {
  source: Uint32Array;
  selected: Uint8Array | null;
  colors: Uint32Array;
  others: Int32Array | null; // null: every point, in order
  chosen: Int32Array | null;
}
let lastPalette: Palette | null = null;

function paletteFor(colors: Uint32Array, selected: Uint8Array | null): Palette {
  if (lastPalette && lastPalette.source === colors && lastPalette.selected === selected) return lastPalette;
  let out = colors, others: Int32Array | null = null, chosen: Int32Array | null = null;
  if (selected) {
    out = new Uint32Array(colors.length);
    let m = 0;
    for (let i = 0; i < colors.length; i++) {
      // unselected points while a selection exists: halfway to the background
      out[i] = ((((colors[i] & 0xfefefe) >>> 1) + ((BACKGROUND & 0xfefefe) >>> 1)) | 0xff000000) >>> 0;
      m += selected[i];
    }
    chosen = new Int32Array(m);
    others = new Int32Array(colors.length - m);
    for (let i = 0, a = 0, b = 0; i < colors.length; i++) {
      if (selected[i]) chosen[a++] = i;
      else others[b++] = i;
    }
  }
  lastPalette = { source: colors, selected, colors: out, others, chosen };
  return lastPalette;
}

interface Props {
  xs: Float32Array;
  ys: Float32Array;
  colors: Uint32Array; // packed RGBA per point
  selected: Uint8Array | null; // 1 = in the selection
  tool: Tool;
  onHover: (index: number, x: number, y: number) => void; // index -1: nothing under the cursor
  onSelect: (indices: Int32Array) => void;
}

/**
 * Every point drawn into one ImageData buffer (a Uint32Array write per pixel through a precomputed dot
 * stamp, no per-point path, allocation or DOM), so 100K points redraw in a few milliseconds; a frame is
 * drawn only when something changed (requestAnimationFrame coalesces the events of one frame); pan with drag (or the wheel button), zoom with the wheel.
 * The current transform is mirrored in data-* attributes for the end-to-end tests.
 */
export function ScatterCanvas({ xs, ys, colors, selected, tool, onHover, onSelect }: Props) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const transform = useRef<ViewTransform | null>(null);
  const path = useRef<[number, number][]>([]);
  const drag = useRef<{ x: number; y: number; t: ViewTransform; button: number } | null>(null);
  const frame = useRef(0);
  const painted = useRef(false);
  const buffer = useRef<{ image: ImageData; px: Uint32Array } | null>(null);
  const props = useRef({ xs, ys, colors, selected, tool });
  props.current = { xs, ys, colors, selected, tool };

  const draw = useCallback(() => {
    frame.current = 0;
    const canvas = canvasRef.current;
    if (!canvas) return;
    const { xs, ys, colors, selected } = props.current;
    const dpr = window.devicePixelRatio || 1;
    const cssW = canvas.clientWidth, cssH = canvas.clientHeight;
    const W = Math.max(1, Math.round(cssW * dpr)), H = Math.max(1, Math.round(cssH * dpr));
    if (canvas.width !== W || canvas.height !== H) {
      canvas.width = W;
      canvas.height = H;
    }
    if (!transform.current) transform.current = fitTransform(xs, ys, cssW, cssH);
    const t = transform.current;
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    // one pixel buffer reused frame after frame (a fresh 5 MB ImageData per frame is garbage at 60 fps)
    if (!buffer.current || buffer.current.image.width !== W || buffer.current.image.height !== H) {
      const image = ctx.createImageData(W, H);
      buffer.current = { image, px: new Uint32Array(image.data.buffer) };
    }
    const { image, px } = buffer.current;
    const started = performance.now();
    px.fill(BACKGROUND);
    // big dots for a few points, small ones for 100K (they would cover each other)
    const r = Math.max(1, Math.round((xs.length < 1000 ? 4 : xs.length < 20_000 ? 2.5 : 1.5) * dpr));
    const sc = t.scale * dpr, tx = t.tx * dpr, ty = t.ty * dpr;
    const look = paletteFor(colors, selected);
    // two passes: the selection is drawn last, on top, bigger
    for (let pass = 0; pass < (selected ? 2 : 1); pass++) {
      const rr = pass === 1 ? r + 1 : r;
      const dot = stampFor(rr, W);
      const { offsets, dx, dy } = dot;
      const n = offsets.length;
      const order = pass === 1 ? look.chosen : look.others;
      const count = order ? order.length : xs.length;
      for (let k = 0; k < count; k++) {
        const i = order ? order[k] : k;
        const cx = (xs[i] * sc + tx) | 0, cy = (ty - ys[i] * sc) | 0;
        if (cx < -rr || cy < -rr || cx >= W + rr || cy >= H + rr) continue;
        const c = pass === 1 ? SELECTED : look.colors[i];
        if (cx >= rr && cy >= rr && cx < W - rr && cy < H - rr) {
          // the whole dot is inside: one precomputed offset per pixel, no bounds checks
          const base = cy * W + cx;
          for (let j = 0; j < n; j++) px[base + offsets[j]] = c;
        } else {
          for (let j = 0; j < n; j++) {
            const x = cx + dx[j], y = cy + dy[j];
            if (x >= 0 && y >= 0 && x < W && y < H) px[y * W + x] = c;
          }
        }
      }
    }
    ctx.putImageData(image, 0, 0);
    const lasso = path.current;
    if (lasso.length > 1) {
      ctx.save();
      ctx.scale(dpr, dpr);
      ctx.strokeStyle = "#ffd34d";
      ctx.lineWidth = 1.5;
      ctx.setLineDash([5, 3]);
      ctx.beginPath();
      if (props.current.tool === "box") {
        const [a, b] = [lasso[0], lasso[lasso.length - 1]];
        ctx.rect(Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.abs(b[0] - a[0]), Math.abs(b[1] - a[1]));
      } else {
        ctx.moveTo(lasso[0][0], lasso[0][1]);
        for (const [x, y] of lasso) ctx.lineTo(x, y);
        ctx.closePath();
      }
      ctx.stroke();
      ctx.restore();
    }
    canvas.dataset.scale = String(t.scale);
    canvas.dataset.tx = String(t.tx);
    canvas.dataset.ty = String(t.ty);
    canvas.dataset.points = String(xs.length);
    canvas.dataset.drawMs = (performance.now() - started).toFixed(2); // read by bench/app_map.py
    if (!painted.current && xs.length > 0) {
      painted.current = true;
      performance.mark("map-painted");
      canvas.dataset.painted = "1";
    }
  }, []);

  const redraw = useCallback(() => {
    if (!frame.current) frame.current = requestAnimationFrame(draw);
  }, [draw]);

  // new points: fit them again; new colours or selection: just redraw
  useEffect(() => {
    transform.current = null;
    redraw();
  }, [xs, ys, redraw]);
  useEffect(redraw, [colors, selected, redraw]);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const observer = new ResizeObserver(redraw);
    observer.observe(canvas);
    // non-passive, so the page does not scroll while zooming
    const onWheel = (event: WheelEvent) => {
      event.preventDefault();
      if (!transform.current) return;
      const rect = canvas.getBoundingClientRect();
      transform.current = zoomAt(transform.current, event.clientX - rect.left, event.clientY - rect.top, Math.exp(-event.deltaY * 0.0015));
      redraw();
    };
    canvas.addEventListener("wheel", onWheel, { passive: false });
    return () => {
      observer.disconnect();
      canvas.removeEventListener("wheel", onWheel);
      if (frame.current) cancelAnimationFrame(frame.current);
      frame.current = 0;
    };
  }, [redraw]);

  const local = (event: React.PointerEvent) => {
    const rect = canvasRef.current!.getBoundingClientRect();
    return [event.clientX - rect.left, event.clientY - rect.top] as [number, number];
  };

  const onPointerDown = (event: React.PointerEvent<HTMLCanvasElement>) => {
    if (!transform.current) return;
    event.currentTarget.setPointerCapture(event.pointerId);
    const [x, y] = local(event);
    drag.current = { x, y, t: transform.current, button: event.button };
    path.current = tool === "pan" || event.button !== 0 ? [] : [[x, y]];
    onHover(-1, 0, 0);
  };

  const onPointerMove = (event: React.PointerEvent<HTMLCanvasElement>) => {
    const [x, y] = local(event);
    const d = drag.current;
    if (d) {
      if (path.current.length) {
        path.current.push([x, y]);
      } else {
        transform.current = { ...d.t, tx: d.t.tx + x - d.x, ty: d.t.ty + y - d.y };
      }
      redraw();
      return;
    }
    if (!transform.current) return;
    onHover(nearest(props.current.xs, props.current.ys, transform.current, x, y, 6), x, y);
  };

  const onPointerUp = (event: React.PointerEvent<HTMLCanvasElement>) => {
    const d = drag.current;
    drag.current = null;
    const points = path.current;
    path.current = [];
    if (!d || !transform.current || points.length === 0) return redraw();
    const [x, y] = local(event);
    points.push([x, y]);
    const { xs, ys } = props.current;
    const chosen = tool === "box" ? pointsInBox(xs, ys, transform.current, points[0], [x, y]) : pointsInPolygon(xs, ys, transform.current, points);
    redraw();
    onSelect(chosen);
  };

  return (
    <canvas
      ref={canvasRef}
      className={`map-canvas tool-${tool}`}
      data-testid="map-canvas"
      onPointerDown={onPointerDown}
      onPointerMove={onPointerMove}
      onPointerUp={onPointerUp}
      onPointerLeave={() => !drag.current && onHover(-1, 0, 0)}
      onDoubleClick={() => {
        transform.current = null;
        redraw();
      }}
    />
  );
}
