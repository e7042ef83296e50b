// Plain SVG charts for the analysis views: a handful of bars, lines and a heatmap are a few dozen lines
// each, need no dependency and add nothing to the grid's bundle (these views are lazy-loaded).
import { useState } from "react";

export const fmt = (n: number | null | undefined, digits = 3) => (n === null || n === undefined ? "–" : n.toFixed(digits));
export const count = (n: number) => n.toLocaleString();

export interface Bar {
  key: string;
  label: string;
  value: number;
  title?: string;
}

/** Horizontal bars, one per row; a click calls `onPick` with the bar's key. */
export function BarList({ bars, onPick, testId, unit = "" }: { bars: Bar[]; onPick?: (key: string) => void; testId?: string; unit?: string }) {
  const max = Math.max(1, ...bars.map((b) => b.value));
  return (
    <ul className="bar-list" data-testid={testId}>
      {bars.map((b) => (
        <li key={b.key}>
          <button
            type="button"
            className="bar-row"
            data-key={b.key}
            disabled={!onPick}
            title={b.title ?? `${b.label}: ${count(b.value)}${unit}`}
            onClick={() => onPick?.(b.key)}
          >
            <span className="bar-label">{b.label}</span>
            <span className="bar-track">
              <span className="bar-fill" style={{ width: `${(100 * b.value) / max}%` }} />
            </span>
            <span className="bar-value num">{count(b.value)}</span>
          </button>
        </li>
      ))}
    </ul>
  );
}

/** Vertical bars over ordered bins (a histogram); `onPick` gets the bin's index. */
export function Columns({ bars, onPick, height = 140, testId }: { bars: Bar[]; onPick?: (index: number) => void; height?: number; testId?: string }) {
  const [hover, setHover] = useState<number | null>(null);
  const max = Math.max(1, ...bars.map((b) => b.value));
  const w = 100 / Math.max(1, bars.length);
  const shown = hover !== null ? bars[hover] : null;
  return (
    <div className="columns" data-testid={testId}>
      <svg viewBox={`0 0 100 ${height}`} preserveAspectRatio="none" height={height} width="100%" role="img">
        {bars.map((b, i) => {
          const h = (height - 2) * (b.value / max);
          return (
            <rect
              key={b.key}
              data-key={b.key}
              x={i * w + w * 0.08}
              y={height - h}
              width={w * 0.84}
              height={Math.max(h, b.value > 0 ? 1 : 0)}
              className={onPick ? "col clickable" : "col"}
              onMouseEnter={() => setHover(i)}
              onMouseLeave={() => setHover(null)}
              onClick={onPick ? () => onPick(i) : undefined}
            >
              <title>{b.title ?? `${b.label}: ${count(b.value)}`}</title>
            </rect>
          );
        })}
      </svg>
      <div className="columns-axis">
        <span>{bars[0]?.label}</span>
        <span className="muted small">{shown ? `${shown.label}: ${count(shown.value)}` : ""}</span>
        <span>{bars[bars.length - 1]?.label}</span>
      </div>
    </div>
  );
}

export interface Series {
  name: string;
  x: number[];
  y: (number | null)[];
  colour: string;
  dashed?: boolean;
}

/** Lines in the unit square (PR curves); points with y < 0 or null are gaps; `marks` are dots. */
export function UnitLines({
  series,
  marks = [],
  xLabel,
  yLabel,
  size = 260,
  testId,
}: {
  series: Series[];
  marks?: { x: number; y: number; colour: string; title: string }[];
  xLabel: string;
  yLabel: string;
  size?: number;
  testId?: string;
}) {
  const pad = 28;
  const inner = size - pad - 8;
  const px = (x: number) => pad + x * inner;
  const py = (y: number) => 8 + (1 - y) * inner;
  return (
    <svg className="lines" viewBox={`0 0 ${size} ${size}`} width={size} height={size} role="img" data-testid={testId}>
      <rect x={pad} y={8} width={inner} height={inner} className="plot-bg" />
      {[0, 0.25, 0.5, 0.75, 1].map((t) => (
        <g key={t}>
          <line x1={px(t)} x2={px(t)} y1={py(0)} y2={py(1)} className="grid-line" />
          <line x1={px(0)} x2={px(1)} y1={py(t)} y2={py(t)} className="grid-line" />
          <text x={px(t)} y={size - 2} className="tick" textAnchor="middle">
            {t}
          </text>
          <text x={pad - 4} y={py(t) + 3} className="tick" textAnchor="end">
            {t}
          </text>
        </g>
      ))}
      <text x={px(0.5)} y={size - 12} className="axis-label" textAnchor="middle">
        {xLabel}
      </text>
      <text x={10} y={py(0.5)} className="axis-label" textAnchor="middle" transform={`rotate(-90 10 ${py(0.5)})`}>
        {yLabel}
      </text>
      {series.map((s) => {
        let d = "";
        let pen = false;
        s.x.forEach((x, i) => {
          const y = s.y[i];
          if (y === null || y === undefined || y < 0) {
            pen = false;
            return;
          }
          d += `${pen ? "L" : "M"}${px(x).toFixed(1)},${py(y).toFixed(1)}`;
          pen = true;
        });
        return <path key={s.name} d={d} fill="none" stroke={s.colour} strokeWidth={2} strokeDasharray={s.dashed ? "5 3" : undefined} data-series={s.name} />;
      })}
      {marks.map((m) => (
        <circle key={m.title} cx={px(m.x)} cy={py(m.y)} r={4} fill={m.colour} stroke="#fff" strokeWidth={1}>
          <title>{m.title}</title>
        </circle>
      ))}
    </svg>
  );
}
