import { useCallback, useEffect, useRef } from "react";
import { fitTransform, nearest, pointsInBox, pointsInPolygon, zoomAt, type ViewTransform } from "../geometry";

export type Tool = "pan" | "lasso" | "box";

const BACKGROUND = 0xff1a1512; // #12151a as little-endian RGBA
const SELECTED = 0xffffffff;

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
 * Every point drawn into one ImageData buffer (a Uint32Array write per pixel, no per-point path or DOM),
 * so 100K points redraw in a few milliseconds; pan with drag (or the wheel button), zoom with the wheel.
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
    px.fill(BACKGROUND);
    // big dots for a few points, small ones for 100K (they would cover each other)
    const r = Math.max(1, Math.round((xs.length < 1000 ? 4 : xs.length < 20_000 ? 2.5 : 1.5) * dpr));
    const sc = t.scale * dpr, tx = t.tx * dpr, ty = t.ty * dpr;
    const dim = selected !== null;
    // two passes: the selection is drawn last, on top, bigger
    for (let pass = 0; pass < (dim ? 2 : 1); pass++) {
      const rr = pass === 1 ? r + 1 : r;
      for (let i = 0; i < xs.length; i++) {
        if (dim && (selected[i] === 1) !== (pass === 1)) continue;
        const cx = (xs[i] * sc + tx) | 0, cy = (ty - ys[i] * sc) | 0;
        if (cx < -rr || cy < -rr || cx >= W + rr || cy >= H + rr) continue;
        // unselected points while a selection exists: halfway to the background
        const c = pass === 1 ? SELECTED : dim ? ((((colors[i] & 0xfefefe) >>> 1) + ((BACKGROUND & 0xfefefe) >>> 1)) | 0xff000000) >>> 0 : colors[i];
        const y0 = Math.max(0, cy - rr), y1 = Math.min(H - 1, cy + rr);
        const x0 = Math.max(0, cx - rr), x1 = Math.min(W - 1, cx + rr);
        const r2 = rr * rr + rr; // a round dot
        for (let y = y0; y <= y1; y++) {
          const row = y * W, dy = (y - cy) * (y - cy);
          for (let x = x0; x <= x1; x++) if (dy + (x - cx) * (x - cx) <= r2) px[row + x] = c;
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
