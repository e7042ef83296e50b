import { useLayoutEffect, useRef } from "react";
import type { PageItem } from "@/lib/api/page-boxes";
import { layoutBoxes, paintRow, visibleBoxes, type BoxDisplay, type RowCell } from "../boxes";
import { inFrame } from "../frame-queue";

interface Props {
  /** the row's items by column (undefined: its page is not in yet) and their indices in the grid */
  items: (PageItem | undefined)[];
  first: number;
  columns: number;
  size: number;
  gap: number;
  /** `.thumb`'s border: the image fills the square inside it */
  border: number;
  display: BoxDisplay;
  highlights: Map<number, ReadonlySet<number>> | null;
  /** called for each cell whose boxes are on the canvas (or that has none to draw) */
  onDrawn: (index: number, part: "boxes") => void;
}

/**
 * A grid row's boxes on one canvas over its cells (an SVG element per box made a screen's first render a
 * 150-300 ms task, and a canvas per cell cost ~1 ms each to set up: bench/app.py). Drawn in a coming
 * animation frame, within a per-frame budget. `data-boxes` lists what was drawn (per sample, CSS px from the
 * canvas' corner, the colour the canvas resolved): the e2e tests check it against the API, and the pixels.
 */
export function RowBoxes({ items, first, columns, size, gap, border, display, highlights, onDrawn }: Props) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const latest = useRef({ items, onDrawn });
  latest.current = { items, onDrawn };
  // the grid re-renders every scroll frame; the row redraws only when what it shows changes
  const content = items.map((i) => i?.id ?? "-").join(",");
  const width = columns * size + (columns - 1) * gap;
  useLayoutEffect(() => {
    const element = canvas.current;
    if (!element) return;
    return inFrame(() => {
      const { items, onDrawn } = latest.current;
      const edge = size - 2 * border;
      const cells: RowCell[] = [];
      items.forEach((item, c) => {
        if (!item?.width || !item.height) return;
        const boxes = layoutBoxes(item.width, item.height, edge, visibleBoxes(item.boxes, display), display.labels, highlights?.get(item.id));
        cells.push({ sample: item.id, left: c * (size + gap) + border, top: border, boxes });
      });
      // a row of placeholders (the grid flying past) hides its canvas and leaves it alone: clearing and
      // compositing every row's canvas each frame made the scroll's long tasks
      element.hidden = cells.length === 0;
      if (cells.length > 0 || element.dataset.boxes !== "[]") element.dataset.boxes = JSON.stringify(paintRow(element, width, size, edge, cells));
      items.forEach((item, c) => item && onDrawn(first + c, "boxes"));
    });
  }, [content, first, width, size, gap, border, display, highlights]);
  // a row of placeholders (the grid flying past) gets no canvas: setting one up costs milliseconds
  return items.some(Boolean) ? <canvas ref={canvas} className="row-boxes" aria-hidden /> : null;
}
