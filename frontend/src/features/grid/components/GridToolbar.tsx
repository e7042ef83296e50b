import type { PredictionRun } from "@/lib/api/types";
import { THUMB_SIZES, type ViewState } from "@/lib/url-state";

interface Props {
  view: ViewState;
  setView: (change: Partial<ViewState>, options?: { replace?: boolean }) => void;
  total: number | null;
  runs: PredictionRun[];
  runsError: unknown;
}

/** What the grid draws: thumbnail size, labels, ground truth, each prediction run, a confidence floor. */
export function GridToolbar({ view, setView, total, runs, runsError }: Props) {
  const toggleRun = (run: string) =>
    setView({ show: view.show.includes(run) ? view.show.filter((r) => r !== run) : [...view.show, run] });
  return (
    <div className="toolbar" data-testid="grid-toolbar">
      <span className="count" data-testid="total">
        {total === null ? "…" : `${total.toLocaleString()} sample${total === 1 ? "" : "s"}`}
      </span>
      <div className="toolbar-group" role="group" aria-label="boxes">
        <label className="toggle">
          <input type="checkbox" checked={view.gt} onChange={(e) => setView({ gt: e.target.checked })} />
          <span className="line solid" aria-hidden /> Ground truth
        </label>
        {runs.map((r) => (
          <label key={r.run} className="toggle" title={`${r.predictions.toLocaleString()} predictions (${r.format})`}>
            <input type="checkbox" checked={view.show.includes(r.run)} onChange={() => toggleRun(r.run)} data-run={r.run} />
            <span className="line dashed" aria-hidden /> {r.run}
          </label>
        ))}
        {runs.length === 0 && !runsError && (
          <span className="muted small" title="POST /api/datasets/{id}/predictions with a COCO results file or YOLO labels">
            no prediction runs — import one through the API to compare
          </span>
        )}
      </div>
      {view.show.length > 0 && (
        <label className="toolbar-group slider">
          <span>Confidence ≥</span>
          <input
            type="range"
            min={0}
            max={1}
            step={0.05}
            value={view.conf}
            onChange={(e) => setView({ conf: Number(e.target.value) }, { replace: true })}
            aria-label="confidence threshold"
          />
          <span className="num">{view.conf.toFixed(2)}</span>
        </label>
      )}
      <div className="toolbar-spacer" />
      <label className="toggle">
        <input type="checkbox" checked={view.labels} onChange={(e) => setView({ labels: e.target.checked })} />
        Labels
      </label>
      <label className="toolbar-group">
        <span>Size</span>
        <select value={view.size} onChange={(e) => setView({ size: Number(e.target.value) })} aria-label="thumbnail size">
          {THUMB_SIZES.map((s) => (
            <option key={s} value={s}>
              {s}px
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}

