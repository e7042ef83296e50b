// The grid's boxes on one canvas per row (paintRow). An SVG element per box (a group, its rect and its label)
// made the first render of a screen of 50 cells × 30 boxes a 150-300 ms task (setAttribute, createElementNS,
// then style and layout of thousands of nodes: bench/app.py --profile); a canvas is one node per row and
// its drawing a few hundred microseconds. The sample view keeps the SVG overlay: its boxes are interactive.
import type { PageBox } from "@/lib/api/page-boxes";
import { categoryColor } from "@/lib/colors";

export interface BoxDisplay {
  gt: boolean;
  runs: string[];
  conf: number;
  labels: boolean;
}

const GROUND_TRUTH = "ground_truth";
/** CSS px, the same as the sample view's overlay draws them */
export const STROKE = 2;
export const FONT_PX = 11;
export const DASH = [6, 4];

export function visibleBoxes(boxes: PageBox[], display: BoxDisplay): PageBox[] {
  return boxes.filter((b) =>
    b.source === GROUND_TRUTH ? display.gt : display.runs.includes(b.source) && (b.confidence ?? 1) >= display.conf,
  );
}

/** One box as drawn: CSS px from the canvas' top left corner. */
export interface DrawnBox {
  id: number;
  source: string;
  category: string;
  colour: string;
  rect: [number, number, number, number];
  dashed: boolean;
  lit: boolean;
  label: string | null;
}

/**
 * The boxes of an image of `width` × `height` px shown with `object-fit: contain` in a square of `edge` CSS px
 * (letterboxed as the <img> is), larger boxes first so a small box inside a large one is drawn over it.
 */
export function layoutBoxes(
  width: number,
  height: number,
  edge: number,
  boxes: PageBox[],
  labels: boolean,
  highlighted?: ReadonlySet<number>,
): DrawnBox[] {
  const scale = Math.min(edge / width, edge / height);
  const ox = (edge - width * scale) / 2;
  const oy = (edge - height * scale) / 2;
  return [...boxes]
    .sort((a, b) => b.bbox[2] * b.bbox[3] - a.bbox[2] * a.bbox[3])
    .map((box) => {
      const [x, y, w, h] = box.bbox;
      const prediction = box.source !== GROUND_TRUTH;
      return {
        id: box.id,
        source: box.source,
        category: box.category,
        colour: categoryColor(box.category),
        rect: [ox + x * scale, oy + y * scale, w * scale, h * scale],
        dashed: prediction,
        lit: highlighted?.has(box.id) ?? false,
        label: labels ? (prediction && box.confidence !== null ? `${box.category} ${box.confidence.toFixed(2)}` : box.category) : null,
      };
    });
}

/** Where a box's label goes: ground truth above the box (inside its top when there is no room), predictions inside its bottom edge. */
export function labelAt(box: DrawnBox): [number, number] {
  const [x, y, , h] = box.rect;
  const baseline = box.dashed ? y + h - STROKE * 2 : y > FONT_PX * 1.3 ? y - STROKE * 1.5 : y + FONT_PX + STROKE;
  return [x + STROKE, baseline];
}

let fontFamily: string | null = null;

/** The boxes of one cell at the context's current transform (CSS px, origin at the image square's corner). */
function paintCell(ctx: CanvasRenderingContext2D, boxes: DrawnBox[]): DrawnBox[] {
  const drawn = boxes.map((box) => {
    const [x, y, w, h] = box.rect;
    ctx.strokeStyle = box.colour;
    const colour = String(ctx.strokeStyle); // "#rrggbb": what the canvas really draws with
    if (box.lit) {
      ctx.globalAlpha = 0.18;
      ctx.fillStyle = colour;
      ctx.fillRect(x, y, w, h);
      ctx.globalAlpha = 1;
    }
    ctx.lineWidth = box.lit ? STROKE * 2 : STROKE;
    ctx.setLineDash(box.dashed ? DASH : []);
    ctx.strokeRect(x, y, w, h);
    return { ...box, colour };
  });
  ctx.setLineDash([]);
  ctx.lineWidth = FONT_PX / 4;
  ctx.strokeStyle = "rgba(8,10,14,0.9)";
  for (const box of drawn) {
    if (box.label === null) continue;
    const [lx, ly] = labelAt(box);
    ctx.strokeText(box.label, lx, ly);
    ctx.fillStyle = box.colour;
    ctx.fillText(box.label, lx, ly);
  }
  return drawn;
}

/** One cell of a row: where its image square starts (CSS px from the row canvas' corner) and its boxes. */
export interface RowCell {
  sample: number;
  left: number;
  top: number;
  boxes: DrawnBox[];
}

/**
 * Draws a row's cells on one canvas `width` × `height` CSS px, each clipped to its image square of `edge` px at
 * (`left`, `top`); returns what was drawn per cell (the colours as the canvas resolved them). One canvas per row,
 * not per cell: a 2D canvas costs about a millisecond to set up, its boxes a few microseconds each.
 */
export function paintRow(canvas: HTMLCanvasElement, width: number, height: number, edge: number, cells: RowCell[]): RowCell[] {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(width * dpr));
  const h = Math.max(1, Math.round(height * dpr));
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  const ctx = canvas.getContext("2d");
  if (!ctx) return cells;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, w, h);
  fontFamily ??= getComputedStyle(document.body).fontFamily || "sans-serif";
  ctx.font = `600 ${FONT_PX}px ${fontFamily}`;
  return cells.map((cell) => {
    if (cell.boxes.length === 0) return cell;
    ctx.save();
    ctx.setTransform(dpr, 0, 0, dpr, cell.left * dpr, cell.top * dpr);
    ctx.beginPath();
    ctx.rect(0, 0, edge, edge);
    ctx.clip();
    const boxes = paintCell(ctx, cell.boxes);
    ctx.restore();
    return { ...cell, boxes };
  });
}
