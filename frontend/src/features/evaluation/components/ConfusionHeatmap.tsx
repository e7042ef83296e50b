import { useState } from "react";
import type { Evaluation } from "../api";

type Confusion = NonNullable<Evaluation["confusion"]>;

const MAX_EDGE = 640; // px of the matrix; cells shrink with more classes, never below 6 px

/**
 * The confusion matrix with background as an SVG heatmap: colour by the cell's share of its row (so
 * rare classes show their confusions too), the count on hover and, when cells are big enough, inside.
 */
export function ConfusionHeatmap({ confusion, onPick }: { confusion: Confusion; onPick: (actual: string, predicted: string) => void }) {
  const { labels, matrix } = confusion;
  const n = labels.length;
  const cell = Math.max(6, Math.min(36, Math.floor(MAX_EDGE / n)));
  const gutter = Math.min(120, 8 + 6.5 * Math.max(...labels.map((l) => l.length)));
  const [hover, setHover] = useState<[number, number] | null>(null);
  const rowSums = matrix.map((row) => row.reduce((s, v) => s + v, 0));
  const labelled = cell >= 12;
  const size = gutter + n * cell;
  const bg = n - 1;
  return (
    <div className="confusion">
      <svg width={size + gutter / 2} height={size} viewBox={`0 0 ${size + gutter / 2} ${size}`} data-testid="confusion" role="grid" aria-label="confusion matrix">
        {labelled &&
          labels.map((l, i) => (
            <g key={l}>
              <text x={gutter - 4} y={gutter + i * cell + cell / 2 + 3} textAnchor="end" className="cm-label">
                {l}
              </text>
              <text x={gutter + i * cell + cell / 2} y={gutter - 4} textAnchor="start" className="cm-label" transform={`rotate(-60 ${gutter + i * cell + cell / 2} ${gutter - 4})`}>
                {l}
              </text>
            </g>
          ))}
        {matrix.map((row, i) =>
          row.map((v, j) => {
            if (i === bg && j === bg) return null;
            const share = rowSums[i] ? v / rowSums[i] : 0;
            const diagonal = i === j;
            const fill = v === 0 ? "var(--bg-2)" : diagonal ? `rgb(63 179 127 / ${0.25 + 0.75 * share})` : `rgb(240 96 93 / ${0.2 + 0.8 * share})`;
            return (
              <g key={`${i}:${j}`}>
                <rect
                  x={gutter + j * cell}
                  y={gutter + i * cell}
                  width={cell - 1}
                  height={cell - 1}
                  fill={fill}
                  className={v > 0 ? "cm-cell clickable" : "cm-cell"}
                  data-actual={labels[i]}
                  data-predicted={labels[j]}
                  data-count={v}
                  onMouseEnter={() => setHover([i, j])}
                  onMouseLeave={() => setHover(null)}
                  onClick={v > 0 ? () => onPick(labels[i], labels[j]) : undefined}
                >
                  <title>{`actual ${labels[i]} → predicted ${labels[j]}: ${v.toLocaleString()} boxes`}</title>
                </rect>
                {labelled && v > 0 && cell >= 24 && (
                  <text x={gutter + j * cell + cell / 2} y={gutter + i * cell + cell / 2 + 3} textAnchor="middle" className="cm-count">
                    {v >= 10000 ? `${Math.round(v / 1000)}k` : v}
                  </text>
                )}
              </g>
            );
          }),
        )}
      </svg>
      <p className="muted small cm-hover">
        {hover
          ? `actual ${labels[hover[0]]} → predicted ${labels[hover[1]]}: ${matrix[hover[0]][hover[1]].toLocaleString()} boxes (${
              rowSums[hover[0]] ? ((100 * matrix[hover[0]][hover[1]]) / rowSums[hover[0]]).toFixed(1) : "0"
            } % of the row)`
          : "hover a cell for its count; the last row and column are background (missed boxes, false detections)"}
      </p>
    </div>
  );
}
