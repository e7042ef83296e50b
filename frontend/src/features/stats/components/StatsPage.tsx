import { useEffect, useState } from "react";
import { useNavigate } from "react-router-dom";
import { ErrorMessage, Spinner } from "@/components/feedback";
import { serializeViewState, toFilters, updateView, type ViewState } from "@/lib/url-state";
import { useDistributions, useStatistics } from "../api";
import { BarList, Columns, count, type Bar } from "@/components/charts";

function binLabel(min: number, max: number | null | undefined, digits = 0) {
  const f = (v: number) => (digits ? v.toFixed(digits) : String(Math.round(v)));
  return max === null || max === undefined ? `≥ ${f(min)}` : `${f(min)}–${f(max)}`;
}

function Card({ title, children, note }: { title: string; children: React.ReactNode; note?: React.ReactNode }) {
  return (
    <article className="card">
      <header>
        <h3>{title}</h3>
        {note && <span className="muted small">{note}</span>}
      </header>
      {children}
    </article>
  );
}

function Stats({ id, view }: { id: number; view: ViewState }) {
  const navigate = useNavigate();
  const filters = toFilters(view);
  const stats = useStatistics(id, filters);
  const dist = useDistributions(id, filters);
  const [measure, setMeasure] = useState<"annotations" | "samples">("annotations");
  const ready = Boolean(stats.data && dist.data);
  useEffect(() => {
    if (ready) performance.mark("stats-painted");
  }, [ready]);
  // a click opens the grid on the current filters plus the clicked slice
  const openGrid = (change: Partial<ViewState>) => navigate(`/datasets/${id}?${serializeViewState(updateView(view, { ...change, open: undefined }))}`);
  if (stats.isError) return <ErrorMessage error={stats.error} title="Cannot load the statistics" onRetry={() => stats.refetch()} />;
  if (!stats.data) return <Spinner label="Computing statistics…" />;
  const s = stats.data;
  const d = dist.data;
  const classes: Bar[] = s.class_distribution
    .map((c) => ({ key: c.category, label: c.category, value: measure === "annotations" ? c.annotations : c.samples }))
    .sort((a, b) => b.value - a.value || a.label.localeCompare(b.label));
  const splits: Bar[] = s.splits.map((sp) => ({ key: sp.split ?? "", label: sp.split ?? "(none)", value: sp.samples, title: `${sp.split ?? "no split"}: ${count(sp.samples)} images, ${count(sp.annotations)} boxes` }));
  const perImage = (d?.boxes_per_image ?? []).map((b) => ({ key: String(b.boxes), label: b.at_least ? `${b.boxes}+` : String(b.boxes), value: b.images, title: `${b.at_least ? `${b.boxes} or more` : b.boxes} boxes: ${count(b.images)} images` }));
  const hist = (bins: { min: number; max?: number | null; count: number }[], digits = 0, unit = "") =>
    bins.map((b, i) => ({ key: String(i), label: binLabel(b.min, b.max, digits) + unit, value: b.count }));
  const t = s.totals;
  // the distributions scan the boxes: their cards fill in when they arrive
  const later = (body: (d: NonNullable<typeof dist.data>) => React.ReactNode) =>
    dist.isError ? <ErrorMessage error={dist.error} title="Cannot load the distributions" onRetry={() => dist.refetch()} /> : d ? body(d) : <Spinner label="Computing…" />;
  return (
    <div className="stats-page" data-testid="stats">
      <div className="stat-tiles">
        <div className="tile">
          <span className="tile-value num" data-testid="stats-samples">{count(t.samples)}</span>
          <span className="muted small">images</span>
        </div>
        <div className="tile">
          <span className="tile-value num">{count(t.annotations)}</span>
          <span className="muted small">boxes</span>
        </div>
        <div className="tile">
          <span className="tile-value num">{t.categories}</span>
          <span className="muted small">categories</span>
        </div>
        <div className="tile">
          <span className="tile-value num">{count(t.images_without_annotations)}</span>
          <span className="muted small">images without boxes</span>
        </div>
        <div className="tile">
          <span className="tile-value num">{t.mean_width ? `${Math.round(t.mean_width)}×${Math.round(t.mean_height ?? 0)}` : "–"}</span>
          <span className="muted small">mean image size</span>
        </div>
      </div>
      <div className="cards">
        <Card
          title="Class distribution"
          note={
            <span className="seg">
              <button type="button" className={measure === "annotations" ? "btn small primary" : "btn small"} onClick={() => setMeasure("annotations")}>
                boxes
              </button>
              <button type="button" className={measure === "samples" ? "btn small primary" : "btn small"} onClick={() => setMeasure("samples")}>
                images
              </button>
            </span>
          }
        >
          <p className="muted small">Click a class to open the grid on its images.</p>
          <BarList bars={classes} onPick={(category) => openGrid({ category })} testId="class-bars" />
        </Card>
        <Card title="Splits" note="images">
          <BarList bars={splits} onPick={(split) => split && openGrid({ split })} testId="split-bars" />
        </Card>
        <Card title="Boxes per image" note="click a bar to see those images">
          {later((d) => (
            <Columns
              bars={perImage}
              testId="boxes-per-image"
              onPick={(i) => {
                const b = d.boxes_per_image[i];
                openGrid({ minBoxes: b.boxes, maxBoxes: b.at_least ? undefined : b.boxes });
              }}
            />
          ))}
        </Card>
        <Card title="Box size" note={`√(w·h) px · COCO small ${count(s.box_sizes_coco.small)} / medium ${count(s.box_sizes_coco.medium)} / large ${count(s.box_sizes_coco.large)}`}>
          <Columns bars={hist(s.box_size_histogram.bins)} testId="box-sizes" />
        </Card>
        <Card title="Box aspect ratio" note="width / height">
          {later((d) => <Columns bars={hist(d.aspect_ratio.bins, 2)} testId="aspect-ratios" />)}
        </Card>
        <Card title="Image width" note="px">
          {later((d) => <Columns bars={hist(d.image_width.bins)} testId="image-widths" />)}
        </Card>
        <Card title="Image height" note="px">
          {later((d) => <Columns bars={hist(d.image_height.bins)} testId="image-heights" />)}
        </Card>
        <Card title="Commonest image sizes" note={d?.images_of_unknown_size ? `${count(d.images_of_unknown_size)} of unknown size` : undefined}>
          {later((d) => <BarList bars={d.image_sizes.map((z) => ({ key: `${z.width}x${z.height}`, label: `${z.width} × ${z.height}`, value: z.images }))} testId="image-sizes" />)}
        </Card>
      </div>
    </div>
  );
}

/** /datasets/:id/stats — the statistics of the samples matching the URL's filters (in the app's AnalysisLayout). */
export default function StatsPage({ id, view }: { id: number; view: ViewState }) {
  return <Stats id={id} view={view} />;
}
