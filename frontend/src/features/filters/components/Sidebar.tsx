import { memo, useCallback, useEffect, useRef, useState } from "react";
import type { Facets } from "@/lib/api/types";
import { ErrorMessage, Spinner } from "@/components/feedback";
import { useHotkeys } from "@/hooks/useHotkeys";
import { categoryColor } from "@/lib/colors";
import { REVIEW_FILTERS, toFilters, type ViewState } from "@/lib/url-state";
import { useEmbeddings, useFacets, useGridSettled, usePredictionRuns } from "../api";
import { SavedViews } from "./SavedViews";

interface Props {
  datasetId: number;
  view: ViewState;
  setView: (change: Partial<ViewState>, options?: { replace?: boolean }) => void;
  /** Beside the grid: its requests wait for the grid's screen. Without a grid (the analysis views) nothing
   * would ever settle, so they go at once. */
  besideGrid: boolean;
}

const SORTS: { value: string; label: string; needs?: "run" | "embeddings" }[] = [
  { value: "id", label: "Import order" },
  { value: "file_name", label: "File name" },
  { value: "width", label: "Width" },
  { value: "height", label: "Height" },
  { value: "annotation_count", label: "Box count" },
  { value: "uniqueness", label: "Uniqueness", needs: "embeddings" },
  { value: "errors", label: "Errors (FP + FN)", needs: "run" },
  { value: "worst", label: "Worst first", needs: "run" },
];

function Section({ title, children, extra }: { title: string; children: React.ReactNode; extra?: React.ReactNode }) {
  return (
    <section className="side-section">
      <header>
        <h3>{title}</h3>
        {extra}
      </header>
      {children}
    </section>
  );
}

const NUMBER = new Intl.NumberFormat();

/**
 * The category facets, re-rendered only when the counts, the search or the active one change: the sidebar
 * itself re-renders each time the grid's pages start or finish loading (useGridSettled), and 80 categories'
 * buttons with formatted counts made a 20-45 ms part of the long task at a scroll's start (bench/app.py --profile).
 */
const CategoryFacets = memo(function CategoryFacets({
  categories,
  filter,
  active,
  onPick,
}: {
  categories: Facets["categories"] | undefined;
  filter: string;
  active: string | undefined;
  onPick: (category: string | undefined) => void;
}) {
  const needle = filter.toLowerCase();
  return (
    <ul className="facet-list" data-testid="categories">
      {(categories ?? [])
        .filter((c) => c.value.toLowerCase().includes(needle))
        .map((c) => {
          const on = active === c.value;
          return (
            <li key={c.value}>
              <button type="button" className={on ? "facet active" : "facet"} aria-pressed={on} data-category={c.value} onClick={() => onPick(on ? undefined : c.value)}>
                <span className="swatch" style={{ background: categoryColor(c.value) }} aria-hidden />
                <span className="facet-name">{c.value}</span>
                <span className="facet-count num" title={`${NUMBER.format(c.annotations)} boxes`}>
                  {NUMBER.format(c.samples)}
                </span>
              </button>
            </li>
          );
        })}
      {categories && categories.length === 0 && <li className="muted small">No boxes among these samples.</li>}
    </ul>
  );
});

function triState(value: boolean | undefined): string {
  return value === undefined ? "" : value ? "1" : "0";
}

function parseTri(value: string): boolean | undefined {
  return value === "" ? undefined : value === "1";
}

/** Filters, sort and saved views of the grid; every control writes the URL. */
export function Sidebar({ datasetId, view, setView, besideGrid }: Props) {
  const filters = toFilters(view);
  const settled = useGridSettled(datasetId, view, besideGrid);
  const facets = useFacets(datasetId, filters, settled);
  const runs = usePredictionRuns(datasetId);
  const embeddings = useEmbeddings(datasetId, settled);
  const [categoryFilter, setCategoryFilter] = useState("");

  // the search box commits to the URL after a pause in typing (one history entry per search)
  const [search, setSearch] = useState(view.search ?? "");
  useEffect(() => setSearch(view.search ?? ""), [view.search]);
  useEffect(() => {
    const value = search.trim() || undefined;
    if (value === view.search) return;
    const timer = window.setTimeout(() => setView({ search: value }), 300);
    return () => window.clearTimeout(timer);
  }, [search, view.search, setView]);
  const searchInput = useRef<HTMLInputElement>(null);
  useHotkeys({ "/": () => searchInput.current?.focus() }, view.open === undefined);

  const hasEmbeddings = (embeddings.data?.models ?? []).length > 0;
  const sorts = SORTS.filter((s) => !s.needs || (s.needs === "run" ? Boolean(view.run) : hasEmbeddings || view.sort === s.value));
  const data = facets.data;
  // a stable callback keeps the category list's memo: the sidebar re-renders whenever the grid's pages load
  const latestSetView = useRef(setView);
  latestSetView.current = setView;
  const pickCategory = useCallback((category: string | undefined) => latestSetView.current({ category }), []);
  const anyFilter = Object.keys(filters).length > 0;

  return (
    <aside className="sidebar" data-testid="sidebar">
      <div className="side-top">
        <input
          ref={searchInput}
          type="search"
          className="search"
          placeholder="Search file names  ( / )"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          aria-label="file-name search"
        />
        {anyFilter && (
          <button
            type="button"
            className="btn small ghost"
            onClick={() => setView({ split: undefined, category: undefined, tags: [], xtags: undefined, search: undefined, minBoxes: undefined, maxBoxes: undefined, run: undefined })}
          >
            Clear filters
          </button>
        )}
      </div>
      {facets.isError && <ErrorMessage error={facets.error} title="Cannot count the filters" onRetry={() => facets.refetch()} />}

      <Section title="Sort">
        <div className="input-row">
          <select value={view.sort} onChange={(e) => setView({ sort: e.target.value })} aria-label="sort by">
            {sorts.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
            {/* a link's sort this list does not offer (a typo, errors without a run): shown as it is, the grid says why it fails */}
            {!sorts.some((s) => s.value === view.sort) && <option value={view.sort}>{view.sort}</option>}
          </select>
          <select value={view.dir ?? ""} onChange={(e) => setView({ dir: (e.target.value || undefined) as ViewState["dir"] })} aria-label="sort direction">
            <option value="">default</option>
            <option value="asc">ascending</option>
            <option value="desc">descending</option>
          </select>
        </div>
      </Section>

      <Section title="Split">
        <select value={view.split ?? ""} onChange={(e) => setView({ split: e.target.value || undefined })} aria-label="split">
          <option value="">All splits</option>
          {(data?.splits ?? [])
            .filter((s) => s.value !== null)
            .map((s) => (
              <option key={s.value} value={s.value as string}>
                {s.value} ({NUMBER.format(s.count)})
              </option>
            ))}
          {view.split && !(data?.splits ?? []).some((s) => s.value === view.split) && <option value={view.split}>{view.split}</option>}
        </select>
      </Section>

      <Section title="Review">
        <select value={view.review ?? ""} onChange={(e) => setView({ review: (e.target.value || undefined) as ViewState["review"] })} aria-label="review status">
          <option value="">Any review status</option>
          {REVIEW_FILTERS.map((r) => {
            const count = (data as { review_status?: { value: string; count: number }[] } | undefined)?.review_status?.find((c) => c.value === r)?.count;
            return (
              <option key={r} value={r}>
                {r.replace("_", " ")}
                {count !== undefined ? ` (${NUMBER.format(count)})` : ""}
              </option>
            );
          })}
        </select>
      </Section>

      <Section title="Categories" extra={facets.isFetching ? <span className="muted small">…</span> : undefined}>
        {(data?.categories.length ?? 0) > 8 && (
          <input className="small-input" placeholder="find a category" value={categoryFilter} onChange={(e) => setCategoryFilter(e.target.value)} aria-label="find a category" />
        )}
        {!data && facets.isPending && <Spinner />}
        <CategoryFacets categories={data?.categories} filter={categoryFilter} active={view.category} onPick={pickCategory} />
      </Section>

      <Section title="Tags">
        <ul className="facet-list" data-testid="tags">
          {(data?.tags ?? []).map((t) => {
            if (t.value === null) return null;
            const value = t.value;
            const active = view.tags.includes(value);
            return (
              <li key={t.value}>
                <button
                  type="button"
                  className={active ? "facet active" : "facet"}
                  aria-pressed={active}
                  data-tag={value}
                  onClick={() => setView({ tags: active ? view.tags.filter((x) => x !== value) : [...view.tags, value] })}
                >
                  <span className="tag-chip small">
                    <span className="tag-text" title={value}>
                      {value}
                    </span>
                  </span>
                  <span className="facet-name" />
                  <span className="facet-count num">{NUMBER.format(t.count)}</span>
                </button>
                <button type="button" className="btn ghost small" data-hide-tag={value} title={`hide the samples tagged “${value}”`} onClick={() => setView({ xtags: [...(view.xtags ?? []), value], tags: view.tags.filter((x) => x !== value) })}>
                  ⊘
                </button>
              </li>
            );
          })}
          {(view.xtags ?? []).map((value) => (
            <li key={`not-${value}`}>
              <button type="button" className="facet active" aria-pressed data-excluded-tag={value} title="show them again" onClick={() => setView({ xtags: (view.xtags ?? []).filter((x) => x !== value) })}>
                <span className="tag-chip small">
                  <span className="tag-text" title={`not ${value}`}>
                    not {value}
                  </span>
                </span>
                <span className="facet-name" />
                <span className="facet-count">×</span>
              </button>
            </li>
          ))}
          {data && data.tags.length === 0 && <li className="muted small">No tags yet: select samples in the grid and add one.</li>}
        </ul>
      </Section>

      <Section title="Boxes per sample">
        <div className="input-row range">
          <input
            type="number"
            min={0}
            placeholder="min"
            aria-label="minimum boxes"
            value={view.minBoxes ?? ""}
            onChange={(e) => setView({ minBoxes: e.target.value === "" ? undefined : Math.max(0, Math.floor(Number(e.target.value))) }, { replace: true })}
          />
          <span className="muted">to</span>
          <input
            type="number"
            min={0}
            placeholder="max"
            aria-label="maximum boxes"
            value={view.maxBoxes ?? ""}
            onChange={(e) => setView({ maxBoxes: e.target.value === "" ? undefined : Math.max(0, Math.floor(Number(e.target.value))) }, { replace: true })}
          />
        </div>
      </Section>

      <Section title="Prediction run">
        {runs.data && runs.data.length === 0 && (
          <p className="muted small">
            No predictions yet. Import a run with <code>POST /api/datasets/{datasetId}/predictions</code> (COCO results or YOLO labels) to
            find false positives and misses.
          </p>
        )}
        {runs.data && runs.data.length > 0 && (
          <>
            <select
              value={view.run ?? ""}
              onChange={(e) => {
                const run = e.target.value || undefined;
                setView({ run, sort: !run && (view.sort === "errors" || view.sort === "worst") ? "id" : view.sort });
              }}
              aria-label="evaluation run"
            >
              <option value="">No evaluation</option>
              {runs.data.map((r) => (
                <option key={r.run} value={r.run}>
                  {r.run}
                </option>
              ))}
              {view.run && !runs.data.some((r) => r.run === view.run) && <option value={view.run}>{view.run} (not found)</option>}
            </select>
            {view.run && (
              <div className="input-row">
                <label className="field inline">
                  <span>False positives</span>
                  <select value={triState(view.hasFp)} onChange={(e) => setView({ hasFp: parseTri(e.target.value) })} aria-label="has false positives">
                    <option value="">any</option>
                    <option value="1">with</option>
                    <option value="0">without</option>
                  </select>
                </label>
                <label className="field inline">
                  <span>Misses</span>
                  <select value={triState(view.hasFn)} onChange={(e) => setView({ hasFn: parseTri(e.target.value) })} aria-label="has false negatives">
                    <option value="">any</option>
                    <option value="1">with</option>
                    <option value="0">without</option>
                  </select>
                </label>
              </div>
            )}
          </>
        )}
      </Section>

      <SavedViews datasetId={datasetId} view={view} setView={setView} enabled={settled} />
    </aside>
  );
}
