import { useEffect, useMemo, useState } from "react";
import { useNavigate } from "react-router-dom";
import { EmptyState, ErrorMessage, Spinner } from "@/components/feedback";
import { count, fmt, UnitLines, type Series } from "@/components/charts";
import { imageUrl } from "@/lib/api/client";
import { serializeViewState, updateView, type ViewState } from "@/lib/url-state";
import { useEvaluation, useRuns, useThresholds, useWorst, type ClassEvaluation, type Evaluation, type ScoreThresholds } from "../api";
import { ERROR_LABELS } from "@/lib/highlights";
import { ConfusionHeatmap } from "./ConfusionHeatmap";
import "../evaluation.css";

const IOUS = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95];
const A_COLOUR = "#4c8dff";
const B_COLOUR = "#f0a04c";
const ERROR_KEYS = ["localisation", "class_confusion", "duplicate", "background", "missed"] as const;

type OpenGrid = (change: Partial<ViewState>) => void;

function atThreshold(t: ScoreThresholds | undefined, score: number) {
  if (!t) return null;
  const i = Math.min(t.score.length - 1, Math.max(0, Math.round(score * 100)));
  return { precision: t.precision[i], recall: t.recall[i], tp: t.tp[i], fp: t.fp[i], fn: t.ground_truth - t.tp[i] };
}

function Metrics({ a, b, iou, runA, runB }: { a: Evaluation; b?: Evaluation; iou: number; runA: string; runB?: string }) {
  const rows: [string, (e: Evaluation) => string][] = [
    ["mAP@[.5:.95]", (e) => fmt(e.map)],
    ["mAP@.5", (e) => fmt(e.map50)],
    ["mAP@.75", (e) => fmt(e.map75)],
    ...(iou !== 0.5 && iou !== 0.75 ? ([[`mAP@${iou}`, (e: Evaluation) => fmt(e.ap_at_iou)]] as [string, (e: Evaluation) => string][]) : []),
    [`precision @ IoU ${iou}`, (e) => fmt(e.precision)],
    [`recall @ IoU ${iou}`, (e) => fmt(e.recall)],
    ["TP", (e) => count(e.tp)],
    ["FP", (e) => count(e.fp)],
    ["FN", (e) => count(e.fn)],
  ];
  return (
    <table className="table metrics" data-testid="metrics">
      <thead>
        <tr>
          <th>metric</th>
          <th className="num">
            <span className="swatch" style={{ background: A_COLOUR }} /> {runA}
          </th>
          {b && (
            <th className="num">
              <span className="swatch" style={{ background: B_COLOUR }} /> {runB}
            </th>
          )}
        </tr>
      </thead>
      <tbody>
        {rows.map(([label, get]) => (
          <tr key={label}>
            <td>{label}</td>
            <td className="num" data-metric={label}>
              {get(a)}
            </td>
            {b && <td className="num">{get(b)}</td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

type SortKey = "category" | "ground_truth" | "predictions" | "ap" | "ap50" | "ap_at_iou" | "precision" | "recall" | "tp" | "fp" | "fn" | "b_ap";

function ClassTable({ a, b, picked, onPick, openGrid }: { a: Evaluation; b?: Evaluation; picked: string | null; onPick: (c: string) => void; openGrid: OpenGrid }) {
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: "ap", desc: true });
  const bAp = useMemo(() => new Map((b?.per_class ?? []).map((c) => [c.category, c.ap])), [b]);
  const value = (c: ClassEvaluation, key: SortKey): number | string | null => (key === "b_ap" ? bAp.get(c.category) ?? null : (c[key] as number | string | null));
  const rows = [...a.per_class].sort((x, y) => {
    const vx = value(x, sort.key);
    const vy = value(y, sort.key);
    if (vx === vy) return x.category.localeCompare(y.category);
    if (vx === null) return 1; // undefined AP (no ground truth) last either way
    if (vy === null) return -1;
    const c = typeof vx === "string" ? vx.localeCompare(vy as string) : (vx as number) - (vy as number);
    return sort.desc ? -c : c;
  });
  const cols: [SortKey, string][] = [
    ["category", "class"],
    ["ground_truth", "GT"],
    ["predictions", "pred."],
    ["ap", "AP"],
    ["ap50", "AP50"],
    ["ap_at_iou", `AP@${a.iou}`],
    ["precision", "P"],
    ["recall", "R"],
    ["tp", "TP"],
    ["fp", "FP"],
    ["fn", "FN"],
    ...(b ? ([["b_ap", `AP (${b.run})`]] as [SortKey, string][]) : []),
  ];
  return (
    <div className="class-table-wrap">
      <table className="table class-table" data-testid="class-table">
        <thead>
          <tr>
            {cols.map(([key, label]) => (
              <th key={key} className={key === "category" ? "" : "num"} aria-sort={sort.key === key ? (sort.desc ? "descending" : "ascending") : "none"}>
                <button type="button" className="th-sort" onClick={() => setSort({ key, desc: sort.key === key ? !sort.desc : key !== "category" })}>
                  {label} {sort.key === key ? (sort.desc ? "▼" : "▲") : ""}
                </button>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((c) => (
            <tr key={c.category_id} className={picked === c.category ? "picked" : undefined} data-category={c.category}>
              <td>
                <button type="button" className="link-button" onClick={() => onPick(c.category)} title="show its PR curve">
                  {c.category}
                </button>{" "}
                <button type="button" className="link-button muted small" onClick={() => openGrid({ category: c.category })} title="open the grid on this class">
                  grid
                </button>
              </td>
              <td className="num">{count(c.ground_truth)}</td>
              <td className="num">{count(c.predictions)}</td>
              <td className="num">{fmt(c.ap)}</td>
              <td className="num">{fmt(c.ap50)}</td>
              <td className="num">{fmt(c.ap_at_iou)}</td>
              <td className="num">{fmt(c.precision)}</td>
              <td className="num">{fmt(c.recall)}</td>
              <td className="num">{count(c.tp)}</td>
              <td className="num">{count(c.fp)}</td>
              <td className="num">{count(c.fn)}</td>
              {b && <td className="num">{fmt(bAp.get(c.category))}</td>}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function curve(name: string, pr: { recall: number[]; precision: number[] } | null | undefined, colour: string, dashed = false): Series[] {
  return pr && pr.precision.length ? [{ name, x: pr.recall, y: pr.precision, colour, dashed }] : [];
}

function Evaluations({ id, view, setView }: { id: number; view: ViewState; setView: (c: Partial<ViewState>) => void }) {
  const navigate = useNavigate();
  const runs = useRuns(id);
  const runA = view.run ?? runs.data?.[0]?.run;
  const runB = view.compare; // in the URL: a pasted link compares the same two runs
  const iou = view.iou ?? 0.5;
  const a = useEvaluation(id, runA, iou, view.split);
  const b = useEvaluation(id, runB !== runA ? runB : undefined, iou, view.split);
  const first = Boolean(a.data);
  const ta = useThresholds(id, runA, iou, view.split, first);
  const tb = useThresholds(id, runB !== runA ? runB : undefined, iou, view.split, first);
  const worst = useWorst(id, runA, iou, view.split, first);
  const [score, setScore] = useState(0.5);
  const [picked, setPicked] = useState<string | null>(null);
  const painted = Boolean(a.data && !a.isPlaceholderData);
  useEffect(() => {
    if (painted) performance.mark("evaluation-painted");
  }, [painted]);

  if (runs.isError) return <ErrorMessage error={runs.error} title="Cannot list the prediction runs" onRetry={() => runs.refetch()} />;
  if (runs.isPending) return <Spinner label="Loading the runs…" />;
  if (!runs.data.length)
    return (
      <EmptyState title="No prediction runs yet">
        <p>
          Import one with <code>POST /api/datasets/{id}/predictions</code> (COCO results or YOLO labels); it is evaluated against the ground truth.
        </p>
      </EmptyState>
    );
  // every click-through: the grid on this run at this IoU, its predictions drawn
  const openGrid: OpenGrid = (change) =>
    navigate(
      `/datasets/${id}?${serializeViewState(
        updateView(view, { run: runA, iou: iou === 0.5 ? undefined : iou, actual: undefined, predicted: undefined, error: undefined, show: runA ? [runA] : [], open: undefined, ...change }),
      )}`,
    );
  const e = a.data;
  const pa = atThreshold(ta.data, score);
  const pb = runB && runB !== runA ? atThreshold(tb.data, score) : null;
  const classA = picked ? e?.per_class.find((c) => c.category === picked) : undefined;
  const classB = picked ? b.data?.per_class.find((c) => c.category === picked) : undefined;
  const marks = [
    ...(pa && pa.precision !== null && pa.recall !== null ? [{ x: pa.recall, y: pa.precision, colour: A_COLOUR, title: `${runA} at score ≥ ${score}` }] : []),
    ...(pb && pb.precision !== null && pb.recall !== null ? [{ x: pb.recall, y: pb.precision, colour: B_COLOUR, title: `${runB} at score ≥ ${score}` }] : []),
  ];
  return (
    <div className="evaluation-page" data-testid="evaluation">
      <div className="eval-controls">
        <label className="field inline">
          <span>Run</span>
          <select value={runA} onChange={(ev) => setView({ run: ev.target.value })} data-testid="run-a">
            {runs.data.map((r) => (
              <option key={r.run} value={r.run}>
                {r.run} ({count(r.predictions)})
              </option>
            ))}
            {/* a link's run that is not (or no longer) here: shown as what it is, not as the first run */}
            {runA !== undefined && !runs.data.some((r) => r.run === runA) && <option value={runA}>{runA} (not found)</option>}
          </select>
        </label>
        <label className="field inline">
          <span>Compare with</span>
          <select value={runB ?? ""} onChange={(ev) => setView({ compare: ev.target.value || undefined })} data-testid="run-b">
            <option value="">—</option>
            {runs.data
              .filter((r) => r.run !== runA)
              .map((r) => (
                <option key={r.run} value={r.run}>
                  {r.run}
                </option>
              ))}
            {runB !== undefined && runB !== runA && !runs.data.some((r) => r.run === runB) && <option value={runB}>{runB} (not found)</option>}
          </select>
        </label>
        <label className="field inline">
          <span>IoU threshold</span>
          <select value={iou} onChange={(ev) => setView({ run: runA, iou: Number(ev.target.value) === 0.5 ? undefined : Number(ev.target.value) })} data-testid="iou">
            {/* a link's threshold off the 0.05 steps (iou=0.33) is listed: the select shows the IoU the numbers are at */}
            {(IOUS.includes(iou) ? IOUS : [...IOUS, iou].sort((x, y) => x - y)).map((v) => (
              <option key={v} value={v}>
                {IOUS.includes(v) ? v.toFixed(2) : String(v)}
              </option>
            ))}
          </select>
        </label>
        <span className="muted small">{view.split ? `split ${view.split}` : "all splits"}</span>
        {a.isFetching && <span className="muted small">evaluating…</span>}
      </div>
      {a.isError && <ErrorMessage error={a.error} title={`Cannot evaluate ${runA}`} onRetry={() => a.refetch()} />}
      {b.isError && <ErrorMessage error={b.error} title={`Cannot evaluate ${runB}`} />}
      {!e && !a.isError && <Spinner label={`Evaluating ${runA} at IoU ${iou}…`} />}
      {e && (
        <div className="cards">
          <article className="card">
            <header>
              <h3>Metrics</h3>
              <span className="muted small">COCO (pycocotools' numbers)</span>
            </header>
            <Metrics a={e} b={runB && runB !== runA ? b.data : undefined} iou={iou} runA={runA ?? ""} runB={runB} />
          </article>
          <article className="card">
            <header>
              <h3>Score threshold</h3>
              <span className="muted small">predictions scoring ≥ t, at IoU {iou}</span>
            </header>
            <label className="threshold">
              <input type="range" min={0} max={1} step={0.01} value={score} onChange={(ev) => setScore(Number(ev.target.value))} data-testid="score" />
              <span className="num">t = {score.toFixed(2)}</span>
            </label>
            <table className="table metrics" data-testid="at-threshold">
              <thead>
                <tr>
                  <th>run</th>
                  <th className="num">precision</th>
                  <th className="num">recall</th>
                  <th className="num">TP</th>
                  <th className="num">FP</th>
                  <th className="num">FN</th>
                </tr>
              </thead>
              <tbody>
                {[
                  [runA, pa],
                  [runB, pb],
                ].map(([run, p]) =>
                  run && p && typeof p === "object" ? (
                    <tr key={run as string}>
                      <td>{run as string}</td>
                      <td className="num" data-testid={`precision-${run}`}>
                        {fmt(p.precision)}
                      </td>
                      <td className="num">{fmt(p.recall)}</td>
                      <td className="num">{count(p.tp)}</td>
                      <td className="num">{count(p.fp)}</td>
                      <td className="num">{count(p.fn)}</td>
                    </tr>
                  ) : null,
                )}
              </tbody>
            </table>
          </article>
          <article className="card">
            <header>
              <h3>PR curve{picked ? `: ${picked}` : ": all classes"}</h3>
              {picked && (
                <button type="button" className="btn small ghost" onClick={() => setPicked(null)}>
                  all classes
                </button>
              )}
            </header>
            <div className="pr">
              <UnitLines
                testId="pr-curve"
                xLabel="recall"
                yLabel="precision"
                series={[
                  ...curve(runA ?? "a", picked ? classA?.pr_curve : e.pr_curve, A_COLOUR),
                  ...(runB && runB !== runA ? curve(runB, picked ? classB?.pr_curve : b.data?.pr_curve, B_COLOUR, true) : []),
                ]}
                marks={picked ? [] : marks}
              />
              <select value={picked ?? ""} onChange={(ev) => setPicked(ev.target.value || null)} aria-label="class of the PR curve">
                <option value="">all classes</option>
                {e.per_class.map((c) => (
                  <option key={c.category_id} value={c.category}>
                    {c.category}
                  </option>
                ))}
              </select>
              <p className="muted small">COCO's interpolated precision at 101 recall points, IoU {iou}; dots: the score threshold.</p>
            </div>
          </article>
          <article className="card">
            <header>
              <h3>Errors</h3>
              <span className="muted small">click to see those images</span>
            </header>
            <ul className="error-list" data-testid="errors">
              {ERROR_KEYS.map((k) => (
                <li key={k}>
                  <button type="button" className="bar-row" data-error={k} onClick={() => openGrid({ error: k })} disabled={!e.errors?.[k]}>
                    <span className="bar-label">{ERROR_LABELS[k]}</span>
                    <span className="bar-track">
                      <span className="bar-fill bad" style={{ width: `${(100 * (e.errors?.[k] ?? 0)) / Math.max(1, ...ERROR_KEYS.map((x) => e.errors?.[x] ?? 0))}%` }} />
                    </span>
                    <span className="bar-value num">{count(e.errors?.[k] ?? 0)}</span>
                  </button>
                </li>
              ))}
            </ul>
          </article>
          <article className="card wide">
            <header>
              <h3>Confusion matrix</h3>
              <span className="muted small">rows: actual, columns: predicted, at IoU {iou}; click a cell to see its images with those boxes lit</span>
            </header>
            {e.confusion ? (
              <ConfusionHeatmap confusion={e.confusion} onPick={(actual, predicted) => openGrid({ actual, predicted })} />
            ) : (
              <p className="muted">No confusion matrix in this reply.</p>
            )}
          </article>
          <article className="card wide">
            <header>
              <h3>Per class</h3>
              <span className="muted small">click a header to sort</span>
            </header>
            <ClassTable a={e} b={runB && runB !== runA ? b.data : undefined} picked={picked} onPick={setPicked} openGrid={openGrid} />
          </article>
          <article className="card wide">
            <header>
              <h3>Worst images first</h3>
              <button type="button" className="btn small" onClick={() => openGrid({ sort: "worst", dir: undefined })} data-testid="open-worst">
                open the grid, worst first
              </button>
            </header>
            <div className="worst-strip">
              {worst.data?.items.map((item, i) => (
                <button key={item.id} type="button" className="similar-item" title={item.file_name} onClick={() => openGrid({ sort: "worst", dir: undefined, open: i })}>
                  <img src={imageUrl(item.id, "small")} alt={item.file_name} loading="lazy" />
                </button>
              ))}
            </div>
          </article>
        </div>
      )}
    </div>
  );
}

/** /datasets/:id/evaluation — a prediction run against the ground truth, and a second run beside it (in the app's AnalysisLayout). */
export default function EvaluationPage({ id, view, setView }: { id: number; view: ViewState; setView: (change: Partial<ViewState>) => void }) {
  return <Evaluations id={id} view={view} setView={setView} />;
}
