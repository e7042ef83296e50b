import { categoryColor } from "@/lib/colors";

export interface OverlayBox {
  id: number;
  category: string;
  bbox: number[];
  source: string;
  confidence: number | null;
}

interface Props {
  width: number;
  height: number;
  boxes: OverlayBox[];
  /** CSS pixels per image pixel, so strokes and labels keep their on-screen size */
  scale: number;
  labels: boolean;
  highlighted?: ReadonlySet<number>;
  selected?: number | null;
  onHover?: (id: number | null) => void;
  onSelect?: (id: number) => void;
}

const GROUND_TRUTH = "ground_truth";

/**
 * Boxes over an image shown with `object-fit: contain` in the same box: the SVG's viewBox is the
 * image's pixel space and `xMidYMid meet` letterboxes it exactly as the image is.
 * Ground truth is solid; predictions are dashed.
 */
export function BoxOverlay({ width, height, boxes, scale, labels, highlighted, selected, onHover, onSelect }: Props) {
  const s = scale > 0 ? scale : 1;
  const stroke = 2 / s;
  const font = 11 / s;
  const interactive = Boolean(onHover || onSelect);
  return (
    <svg
      className={interactive ? "boxes interactive" : "boxes"}
      viewBox={`0 0 ${width} ${height}`}
      preserveAspectRatio="xMidYMid meet"
      aria-hidden={!interactive}
    >
      {/* larger boxes first, so a box inside another stays reachable by the pointer */}
      {[...boxes].sort((a, b) => b.bbox[2] * b.bbox[3] - a.bbox[2] * a.bbox[3]).map((box) => {
        const [x, y, w, h] = box.bbox;
        const colour = categoryColor(box.category);
        const prediction = box.source !== GROUND_TRUTH;
        const lit = highlighted?.has(box.id) || selected === box.id;
        const label = prediction && box.confidence !== null ? `${box.category} ${box.confidence.toFixed(2)}` : box.category;
        return (
          <g
            key={`${box.source}:${box.id}`}
            className={lit ? "box lit" : "box"}
            data-box-id={box.id}
            data-source={box.source}
            data-category={box.category}
            onMouseEnter={onHover ? () => onHover(box.id) : undefined}
            onMouseLeave={onHover ? () => onHover(null) : undefined}
            onClick={onSelect ? (e) => (e.stopPropagation(), onSelect(box.id)) : undefined}
          >
            <rect
              x={x}
              y={y}
              width={w}
              height={h}
              fill={lit ? colour : "none"}
              fillOpacity={lit ? 0.18 : 0}
              stroke={colour}
              strokeWidth={lit ? stroke * 2 : stroke}
              strokeDasharray={prediction ? `${6 / s} ${4 / s}` : undefined}
              pointerEvents={interactive ? "all" : "none"}
            />
            {labels && (
              <text
                x={x + stroke}
                // ground truth labels above the box, predictions inside its bottom edge: they rarely collide
                y={prediction ? y + h - stroke * 2 : y > font * 1.3 ? y - stroke * 1.5 : y + font + stroke}
                fontSize={font}
                fill={colour}
                stroke="rgba(8,10,14,0.9)"
                strokeWidth={font / 4}
                paintOrder="stroke"
                pointerEvents="none"
              >
                {label}
              </text>
            )}
          </g>
        );
      })}
    </svg>
  );
}
