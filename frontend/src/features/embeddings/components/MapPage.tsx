import { useMemo, useState } from "react";
import { useNavigate, useParams } from "react-router-dom";
import { DatasetCrumbs } from "@/components/DatasetCrumbs";
import { ErrorMessage, ProgressBar, Spinner } from "@/components/feedback";
import { imageUrl } from "@/lib/api/client";
import { hashName } from "@/lib/colors";
import { serializeViewState, DEFAULT_VIEW } from "@/lib/url-state";
import {
  useCancelJobs,
  useCreateSelection,
  useEmbeddingStatus,
  useJob,
  useMapColors,
  usePredictionRuns,
  useProjection,
  useStartJob,
  type ColorBy,
  type Method,
} from "../api";
import { alignIds, hslToRgb, packRgb } from "../geometry";
import { ScatterCanvas, type Tool } from "./ScatterCanvas";

const NONE_COLOR = packRgb(110, 116, 128);

function labelColor(name: string): number {
  // the same hue as lib/colors' categoryColor, so a class has one colour in every view
  const h = hashName(name);
  return packRgb(...hslToRgb(h % 360, 0.85, (55 + ((h >>> 9) % 2) * 10) / 100));
}

function rampColor(v: number): number {
  // uniqueness 0 (blue: has look-alikes) .. 1 (yellow: unique)
  return packRgb(...hslToRgb(230 - 180 * Math.min(1, Math.max(0, v)), 0.8, 0.5 + 0.1 * v));
}

function css(c: number): string {
  return `rgb(${c & 255} ${(c >>> 8) & 255} ${(c >>> 16) & 255})`;
}

/** /datasets/:id/map — the embeddings map: job controls, the canvas, colours, hover, lasso to the grid. */
export function MapPage() {
  const id = Number(useParams().id);
  const navigate = useNavigate();
  const status = useEmbeddingStatus(id);
  const [method, setMethod] = useState<Method>("pca");
  const [by, setBy] = useState<ColorBy>("category");
  const [run, setRun] = useState<string | undefined>();
  const [tool, setTool] = useState<Tool>("lasso");
  const [jobId, setJobId] = useState<string | null>(null);
  const [hover, setHover] = useState<{ index: number; x: number; y: number }>({ index: -1, x: 0, y: 0 });
  const [chosen, setChosen] = useState<Int32Array | null>(null);
  const vectors = status.data?.models.find((m) => m.model === status.data?.model)?.vectors ?? 0;
  const running = status.data?.jobs[0]?.id ?? null;
  const job = useJob(id, jobId ?? running);
  const projection = useProjection(id, method, vectors > 0);
  const colors = useMapColors(id, by, run, vectors > 0);
  const runs = usePredictionRuns(id);
  const start = useStartJob(id);
  const cancel = useCancelJobs(id);
  const select = useCreateSelection(id);

  const p = projection.data;
  const packed = useMemo(() => {
    if (!p) return { colors: new Uint32Array(0), legend: [] as { name: string; color: number; count: number }[] };
    const out = new Uint32Array(p.ids.length).fill(NONE_COLOR);
    const c = colors.data;
    if (!c) return { colors: out, legend: [] };
    const rows = alignIds(p.ids, c.ids);
    if (by === "uniqueness") {
      for (let i = 0; i < rows.length; i++) {
        const v = rows[i] >= 0 ? c.values[rows[i]] : null;
        if (v !== null && v !== undefined) out[i] = rampColor(v);
      }
      return { colors: out, legend: [] };
    }
    const palette = c.labels.map((name) => (name === "(none)" ? NONE_COLOR : labelColor(name)));
    const counts = new Array<number>(c.labels.length).fill(0);
    for (let i = 0; i < rows.length; i++) {
      if (rows[i] < 0) continue;
      const code = c.codes[rows[i]];
      out[i] = palette[code];
      counts[code]++;
    }
    const legend = c.labels.map((name, i) => ({ name, color: palette[i], count: counts[i] })).filter((l) => l.count > 0);
    legend.sort((a, b) => b.count - a.count);
    return { colors: out, legend };
  }, [p, colors.data, by]);

  const mask = useMemo(() => {
    if (!p || !chosen) return null;
    const m = new Uint8Array(p.ids.length);
    for (const i of chosen) m[i] = 1;
    return m;
  }, [p, chosen]);

  const openInGrid = async () => {
    if (!p || !chosen || chosen.length === 0) return;
    const ids = Array.from(chosen, (i) => p.ids[i]);
    const selection = await select.mutateAsync(ids);
    performance.mark("map-selection-stored");
    navigate(`/datasets/${id}?${serializeViewState({ ...DEFAULT_VIEW, selection: selection.id })}`);
  };

  const activeJob = job && (job.state === "queued" || job.state === "running") ? job : null;
  const hovered = p && hover.index >= 0 ? p.ids[hover.index] : null;

  return (
    <div className="map-page" data-testid="map-page">
      <DatasetCrumbs id={id} title="Embeddings map">
        <span className="muted small num" data-testid="map-count">
          {status.data ? `${vectors.toLocaleString()} of ${status.data.samples.toLocaleString()} samples embedded (${status.data.model})` : ""}
        </span>
      </DatasetCrumbs>
      <div className="map-toolbar">
        <button type="button" className="btn" data-testid="map-embed" disabled={!!activeJob || start.isPending} onClick={() => start.mutateAsync("embeddings").then((r) => setJobId(r.job_id))}>
          {vectors > 0 ? "Embed new samples" : "Compute embeddings"}
        </button>
        <label>
          Map{" "}
          <select value={method} onChange={(e) => setMethod(e.target.value as Method)} data-testid="map-method">
            <option value="pca">PCA</option>
            <option value="tsne">t-SNE</option>
          </select>
        </label>
        {method === "tsne" && (
          <button type="button" className="btn" data-testid="map-tsne" disabled={!!activeJob || vectors === 0} onClick={() => start.mutateAsync("tsne").then((r) => setJobId(r.job_id))}>
            Compute t-SNE
          </button>
        )}
        <label>
          Colour by{" "}
          <select value={by} onChange={(e) => setBy(e.target.value as ColorBy)} data-testid="map-color-by">
            <option value="category">class</option>
            <option value="split">split</option>
            <option value="tag">tag</option>
            <option value="uniqueness">uniqueness</option>
            <option value="errors" disabled={!runs.data?.length}>
              TP/FP (run)
            </option>
          </select>
        </label>
        {by === "errors" && (
          <select value={run ?? ""} onChange={(e) => setRun(e.target.value || undefined)} aria-label="prediction run">
            <option value="">run…</option>
            {runs.data?.map((r) => (
              <option key={r.run} value={r.run}>
                {r.run}
              </option>
            ))}
          </select>
        )}
        <div className="map-tools" role="group" aria-label="tool">
          {(["lasso", "box", "pan"] as Tool[]).map((t) => (
            <button key={t} type="button" className={`btn small${tool === t ? " primary" : ""}`} aria-pressed={tool === t} data-testid={`map-tool-${t}`} onClick={() => setTool(t)}>
              {t}
            </button>
          ))}
        </div>
        <span className="muted small">wheel: zoom · {tool === "pan" ? "drag" : "middle-button drag"}: pan · double-click: fit</span>
      </div>
      {activeJob && (
        <div className="map-job" data-testid="map-job" data-state={activeJob.state}>
          <ProgressBar done={activeJob.done ?? null} total={activeJob.total ?? null} label={`${activeJob.kind} progress`} />
          <span className="small">{activeJob.message ?? activeJob.state}</span>
          <button type="button" className="btn ghost small" data-testid="map-cancel" onClick={() => cancel.mutate()}>
            Cancel
          </button>
        </div>
      )}
      {job?.state === "failed" && <ErrorMessage error={job.error ?? "the job failed"} />}
      <div className="map-body">
        <div className="map-stage">
          {status.isPending ? (
            <Spinner label="Loading…" />
          ) : status.isError ? (
            <ErrorMessage error={status.error} />
          ) : vectors === 0 ? (
            <div className="map-empty">No embeddings yet: compute them to see the map.</div>
          ) : projection.isError ? (
            <ErrorMessage error={projection.error} />
          ) : !p ? (
            <Spinner label="Loading the map…" />
          ) : (
            <ScatterCanvas xs={p.x} ys={p.y} colors={packed.colors} selected={mask} tool={tool} onHover={(index, x, y) => setHover({ index, x, y })} onSelect={(s) => setChosen(s.length ? s : null)} />
          )}
          {hovered !== null && (
            <div className="map-hover" data-testid="map-hover" data-sample-id={hovered} style={{ left: hover.x + 14, top: hover.y + 14 }}>
              <img src={imageUrl(hovered, "small")} alt="" width={128} />
              <span className="small num">sample {hovered}</span>
            </div>
          )}
        </div>
        <aside className="map-side">
          {chosen && (
            <section className="map-selection" data-testid="map-selection" data-count={chosen.length}>
              <strong className="num">{chosen.length.toLocaleString()} selected</strong>
              <button type="button" className="btn primary" data-testid="map-open-grid" disabled={select.isPending} onClick={openInGrid}>
                Open in grid
              </button>
              <button type="button" className="btn ghost small" onClick={() => setChosen(null)}>
                Clear
              </button>
              {select.isError && <ErrorMessage error={select.error} />}
            </section>
          )}
          {by === "uniqueness" ? (
            <div className="map-ramp small">
              <span>look-alikes</span>
              <span className="map-ramp-bar" />
              <span>unique</span>
            </div>
          ) : (
            <ul className="map-legend" data-testid="map-legend">
              {packed.legend.slice(0, 40).map((l) => (
                <li key={l.name}>
                  <span className="swatch" style={{ background: css(l.color) }} />
                  <span className="name">{l.name}</span>
                  <span className="num muted">{l.count.toLocaleString()}</span>
                </li>
              ))}
            </ul>
          )}
          {p && (
            <p className="muted small num">
              {p.ids.length.toLocaleString()} points · {p.method} · {(p.bytes / 1024).toFixed(0)} KB
            </p>
          )}
        </aside>
      </div>
    </div>
  );
}
