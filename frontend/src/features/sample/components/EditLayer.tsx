import { useRef, type PointerEvent as ReactPointerEvent } from "react";
import { HANDLES, dragBox, handlePoint, spanBox, type Bbox, type Handle } from "../geometry";

interface Props {
  /** the image's displayed (EXIF-applied) size: the layer's coordinate space */
  width: number;
  height: number;
  /** CSS pixels per image pixel */
  scale: number;
  /** the box being edited (its draft while dragging), or null */
  bbox: Bbox | null;
  /** draw a new box: the pointer spans it anywhere on the image */
  drawing: boolean;
  disabled?: boolean;
  onDraft: (bbox: Bbox) => void;
  /** the pointer let go: the box as the drag left it */
  onCommit: (bbox: Bbox) => void;
}

interface Drag {
  handle: Handle | "draw";
  start: Bbox;
  x: number;
  y: number;
  last: Bbox;
}

/**
 * The editing handles over the image, in an SVG whose viewBox is the image's pixel space and that
 * letterboxes exactly as the image and BoxOverlay do: pointer positions map to image pixels through the
 * SVG's own screen transform, so the view's scale never enters the stored numbers.
 */
export function EditLayer({ width, height, scale, bbox, drawing, disabled, onDraft, onCommit }: Props) {
  const svg = useRef<SVGSVGElement>(null);
  const drag = useRef<Drag | null>(null);
  const s = scale > 0 ? scale : 1;
  const knob = 9 / s;

  const toImage = (event: ReactPointerEvent): [number, number] => {
    const ctm = svg.current?.getScreenCTM();
    if (!ctm) return [0, 0];
    const p = new DOMPoint(event.clientX, event.clientY).matrixTransform(ctm.inverse());
    return [p.x, p.y];
  };

  const begin = (handle: Handle | "draw") => (event: ReactPointerEvent) => {
    if (disabled || event.button !== 0) return;
    event.stopPropagation();
    event.preventDefault();
    const [x, y] = toImage(event);
    const start: Bbox = handle === "draw" ? [x, y, 0, 0] : (bbox as Bbox);
    drag.current = { handle, start, x, y, last: start };
    svg.current?.setPointerCapture(event.pointerId);
  };

  const move = (event: ReactPointerEvent) => {
    const d = drag.current;
    if (!d) return;
    const [x, y] = toImage(event);
    d.last = d.handle === "draw" ? spanBox(d.x, d.y, x, y, width, height) : dragBox(d.start, d.handle, x - d.x, y - d.y, width, height);
    onDraft(d.last);
  };

  const end = (event: ReactPointerEvent) => {
    const d = drag.current;
    if (!d) return;
    drag.current = null;
    svg.current?.releasePointerCapture(event.pointerId);
    onCommit(d.last);
  };

  return (
    <svg
      ref={svg}
      className={drawing ? "edit-layer drawing" : "edit-layer"}
      viewBox={`0 0 ${width} ${height}`}
      preserveAspectRatio="xMidYMid meet"
      data-testid="edit-layer"
      onPointerMove={move}
      onPointerUp={end}
      onPointerCancel={end}
      onClick={(e) => e.stopPropagation()}
    >
      {drawing && <rect className="draw-surface" x={0} y={0} width={width} height={height} onPointerDown={begin("draw")} data-testid="draw-surface" />}
      {bbox && (
        <g className="edit-box" data-testid="edit-box" data-bbox={bbox.join(",")}>
          <rect
            className="edit-body"
            x={bbox[0]}
            y={bbox[1]}
            width={bbox[2]}
            height={bbox[3]}
            strokeWidth={1.5 / s}
            onPointerDown={drawing ? undefined : begin("move")}
            data-handle="move"
          />
          {!drawing &&
            HANDLES.map((handle) => {
              const [hx, hy] = handlePoint(bbox, handle);
              return (
                <rect
                  key={handle}
                  className={`edit-handle h-${handle}`}
                  x={hx - knob / 2}
                  y={hy - knob / 2}
                  width={knob}
                  height={knob}
                  strokeWidth={1 / s}
                  data-handle={handle}
                  onPointerDown={begin(handle)}
                />
              );
            })}
        </g>
      )}
    </svg>
  );
}
