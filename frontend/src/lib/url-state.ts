// All view state lives in the URL (`/datasets/:id?...`): reload, back/forward and a pasted link show
// the same view. parse(serialize(s)) == s, defaults are left out, keys come in a fixed order.

export type SortDir = "asc" | "desc";
export const REVIEW_FILTERS = ["unreviewed", "reviewed", "needs_fix"] as const;
export type ReviewFilter = (typeof REVIEW_FILTERS)[number];

export interface ViewState {
  // filters (the backend's SampleFilters)
  split?: string;
  category?: string;
  tags: string[];
  xtags?: string[]; // none of these tags (e.g. "duplicate": everything but the duplicates)
  search?: string;
  minBoxes?: number;
  maxBoxes?: number;
  review?: ReviewFilter; // triage review status of the sample (the box editor sets it)
  run?: string; // evaluation run for has_fp / has_fn / sort by errors|worst
  hasFp?: boolean;
  hasFn?: boolean;
  iou?: number; // IoU threshold of the run's evaluation (the backend's default 0.5 when unset)
  // one confusion-matrix cell (both set) and/or one error category of `run` (the evaluation view's click-through)
  actual?: string;
  predicted?: string;
  error?: string;
  selection?: number; // a stored selection (a lasso on the embeddings map)
  compare?: string; // the evaluation view's second run, side by side with `run`
  // order
  sort: string;
  dir?: SortDir;
  // display
  gt: boolean; // ground-truth boxes shown
  show: string[]; // prediction runs drawn (dashed)
  conf: number; // confidence threshold of drawn predictions
  labels: boolean;
  size: number; // thumbnail edge in CSS pixels
  // the sample open in the sample view: its index in the filtered, sorted list
  open?: number;
  // or a sample opened by id (from the similar-images strip), outside the list's order
  sid?: number;
}

export const THUMB_SIZES = [120, 160, 200, 260, 340] as const;
export const DEFAULT_SIZE = 200;

export const DEFAULT_VIEW: ViewState = {
  tags: [],
  sort: "id",
  gt: true,
  show: [],
  conf: 0,
  labels: true,
  size: DEFAULT_SIZE,
};

function int(value: string | null, min = 0): number | undefined {
  if (value === null || !/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= min ? n : undefined;
}

function bool(value: string | null): boolean | undefined {
  if (value === "1" || value === "true") return true;
  if (value === "0" || value === "false") return false;
  return undefined;
}

function text(value: string | null): string | undefined {
  return value === null || value === "" ? undefined : value;
}

function iouOf(value: string | null): number | undefined {
  const n = value === null ? NaN : Number(value);
  return Number.isFinite(n) && n >= 0.05 && n <= 1 && n !== 0.5 ? n : undefined;
}

function unique(values: string[]): string[] {
  return [...new Set(values.filter((v) => v !== ""))];
}

/** The size menu's entry nearest to `size` (the smaller on a tie): the grid draws what the menu says. */
function nearestSize(size: number): number {
  return THUMB_SIZES.reduce<number>((best, s) => (Math.abs(s - size) < Math.abs(best - size) ? s : best), THUMB_SIZES[0]);
}

export function parseViewState(search: string | URLSearchParams): ViewState {
  const p = typeof search === "string" ? new URLSearchParams(search) : search;
  const conf = Number(p.get("conf"));
  const size = int(p.get("size"), 1);
  const dir = p.get("dir");
  const run = text(p.get("run"));
  const state: ViewState = {
    split: text(p.get("split")),
    category: text(p.get("category")),
    tags: unique(p.getAll("tag")),
    xtags: p.getAll("xtag").length ? unique(p.getAll("xtag")) : undefined,
    search: text(p.get("q")),
    minBoxes: int(p.get("min")),
    maxBoxes: int(p.get("max")),
    review: REVIEW_FILTERS.find((r) => r === p.get("review")),
    run,
    hasFp: run ? bool(p.get("fp")) : undefined,
    hasFn: run ? bool(p.get("fn")) : undefined,
    iou: run ? iouOf(p.get("iou")) : undefined,
    actual: run && text(p.get("predicted")) ? text(p.get("actual")) : undefined,
    predicted: run && text(p.get("actual")) ? text(p.get("predicted")) : undefined,
    error: run ? text(p.get("error")) : undefined,
    selection: int(p.get("sel"), 1),
    compare: text(p.get("vs")),
    sort: text(p.get("sort")) ?? DEFAULT_VIEW.sort,
    dir: dir === "asc" || dir === "desc" ? dir : undefined,
    gt: bool(p.get("gt")) ?? true,
    show: unique(p.getAll("show")),
    conf: Number.isFinite(conf) && conf > 0 && conf <= 1 ? conf : 0,
    labels: bool(p.get("labels")) ?? true,
    size: size !== undefined ? nearestSize(size) : DEFAULT_SIZE,
    open: int(p.get("open")),
    sid: int(p.get("sample"), 1),
  };
  for (const key of Object.keys(state) as (keyof ViewState)[]) if (state[key] === undefined) delete state[key];
  return state;
}

export function serializeViewState(s: ViewState): string {
  const p = new URLSearchParams();
  const put = (key: string, value: string | number | boolean | undefined) => {
    if (value === undefined) return;
    p.append(key, typeof value === "boolean" ? (value ? "1" : "0") : String(value));
  };
  put("split", s.split);
  put("category", s.category);
  for (const tag of unique(s.tags)) p.append("tag", tag);
  for (const tag of unique(s.xtags ?? [])) p.append("xtag", tag);
  put("q", s.search);
  put("min", s.minBoxes);
  put("max", s.maxBoxes);
  put("review", s.review);
  put("run", s.run);
  if (s.run) {
    put("fp", s.hasFp);
    put("fn", s.hasFn);
    if (s.iou !== undefined && s.iou !== 0.5) put("iou", s.iou);
    if (s.actual !== undefined && s.predicted !== undefined) {
      put("actual", s.actual);
      put("predicted", s.predicted);
    }
    put("error", s.error);
  }
  put("sel", s.selection);
  put("vs", s.compare);
  if (s.sort !== DEFAULT_VIEW.sort) put("sort", s.sort);
  put("dir", s.dir);
  if (!s.gt) put("gt", false);
  for (const run of unique(s.show)) p.append("show", run);
  if (s.conf > 0) put("conf", s.conf);
  if (!s.labels) put("labels", false);
  if (s.size !== DEFAULT_SIZE) put("size", s.size);
  put("open", s.open);
  put("sample", s.sid);
  return p.toString();
}

/** The state with some fields changed; a filter or sort change also closes the sample view. */
export function updateView(s: ViewState, change: Partial<ViewState>): ViewState {
  const next = { ...s, ...change };
  for (const key of Object.keys(next) as (keyof ViewState)[]) if (next[key] === undefined) delete next[key];
  if (next.xtags && next.xtags.length === 0) delete next.xtags;
  if (!next.run) {
    delete next.hasFp;
    delete next.hasFn;
    delete next.iou;
    delete next.actual;
    delete next.predicted;
    delete next.error;
  }
  if (!("open" in change) && Object.keys(change).some((k) => FILTER_KEYS.has(k as keyof ViewState) || k === "sort" || k === "dir")) {
    delete next.open;
    delete next.sid;
  }
  return next;
}

const FILTER_KEYS = new Set<keyof ViewState>(["split", "category", "tags", "xtags", "search", "minBoxes", "maxBoxes", "review", "run", "hasFp", "hasFn", "iou", "actual", "predicted", "error", "selection"]);

/** The backend's filter parameters (facets, statistics, samples, tags, saved views). */
export interface SampleFilters {
  split?: string;
  category?: string;
  tag?: string[];
  exclude_tag?: string[];
  search?: string;
  min_annotations?: number;
  max_annotations?: number;
  review_status?: ReviewFilter;
  eval_run?: string;
  has_fp?: boolean;
  has_fn?: boolean;
  eval_iou?: number;
  eval_actual?: string;
  eval_predicted?: string;
  eval_error?: string;
  selection?: number;
}

export function toFilters(s: ViewState): SampleFilters {
  const f: SampleFilters = {
    split: s.split,
    category: s.category,
    tag: s.tags.length ? [...s.tags] : undefined,
    exclude_tag: s.xtags?.length ? [...s.xtags] : undefined,
    search: s.search,
    min_annotations: s.minBoxes,
    max_annotations: s.maxBoxes,
    review_status: s.review,
    eval_run: s.run,
    has_fp: s.run ? s.hasFp : undefined,
    has_fn: s.run ? s.hasFn : undefined,
    eval_iou: s.run ? s.iou : undefined,
    eval_actual: s.run && s.predicted !== undefined ? s.actual : undefined,
    eval_predicted: s.run && s.actual !== undefined ? s.predicted : undefined,
    eval_error: s.run ? s.error : undefined,
    selection: s.selection,
  };
  for (const key of Object.keys(f) as (keyof SampleFilters)[]) if (f[key] === undefined) delete f[key];
  return f;
}

/** A saved view's filters applied to the current display settings (sort and display are kept). */
export function fromFilters(current: ViewState, f: Record<string, unknown>): ViewState {
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  const num = (v: unknown) => (typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : undefined);
  const flag = (v: unknown) => (typeof v === "boolean" ? v : undefined);
  const run = str(f.eval_run);
  return updateView(
    { ...current, tags: [] },
    {
      split: str(f.split),
      category: str(f.category),
      tags: Array.isArray(f.tag) ? unique(f.tag.filter((t): t is string => typeof t === "string")) : [],
      xtags: Array.isArray(f.exclude_tag) && f.exclude_tag.length ? unique(f.exclude_tag.filter((t): t is string => typeof t === "string")) : undefined,
      search: str(f.search),
      minBoxes: num(f.min_annotations),
      maxBoxes: num(f.max_annotations),
      review: REVIEW_FILTERS.find((r) => r === f.review_status),
      run,
      hasFp: run ? flag(f.has_fp) : undefined,
      hasFn: run ? flag(f.has_fn) : undefined,
      iou: run && typeof f.eval_iou === "number" && f.eval_iou !== 0.5 ? f.eval_iou : undefined,
      actual: run && str(f.eval_predicted) ? str(f.eval_actual) : undefined,
      predicted: run && str(f.eval_actual) ? str(f.eval_predicted) : undefined,
      error: run ? str(f.eval_error) : undefined,
      selection: typeof f.selection === "number" && Number.isSafeInteger(f.selection) && f.selection > 0 ? f.selection : undefined,
      open: undefined,
      sid: undefined,
    },
  );
}

/** Query parameters of a samples page. */
export function samplesQuery(s: ViewState): Record<string, string | number | boolean | string[] | undefined> {
  return { ...toFilters(s), sort_by: s.sort, sort_dir: s.dir };
}
