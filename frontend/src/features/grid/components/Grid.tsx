import { useVirtualizer } from "@tanstack/react-virtual";
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { EmptyState, ErrorMessage, Spinner } from "@/components/feedback";
import { useHotkeys } from "@/hooks/useHotkeys";
import type { PageItem } from "@/lib/api/page-boxes";
import { samplesQuery, THUMB_SIZES, type ViewState } from "@/lib/url-state";
import { PAGE_SIZE, useGridPages, usePredictionRuns } from "../api";
import { gridGone, gridPainted, gridPending } from "@/lib/grid-status";
import { EvalFilterBar, useHighlights } from "@/lib/highlights";
import { useFastScroll } from "../hooks/useFastScroll";
import { useSelection } from "../hooks/useSelection";
import { GridToolbar } from "./GridToolbar";
import { SelectionBar } from "./SelectionBar";
import { Thumb, type BoxDisplay } from "./Thumb";

const GAP = 8;
const CAPTION = 24;
const OVERSCAN_ROWS = 2;
const ROW_SLOTS = 64;

interface Props {
  datasetId: number;
  view: ViewState;
  setView: (change: Partial<ViewState>, options?: { replace?: boolean }) => void;
}

/**
 * The virtualised grid: only the rows in view (plus a little overscan) exist in the DOM, only
 * their pages are requested (one request per page of 100, boxes included), and a page whose rows
 * scroll away before it arrives is cancelled.
 */
export function Grid({ datasetId, view, setView }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(0);
  useLayoutEffect(() => {
    const element = scroller.current;
    if (!element) return;
    const observer = new ResizeObserver(() => setWidth(element.clientWidth));
    observer.observe(element);
    setWidth(element.clientWidth);
    return () => observer.disconnect();
  }, []);

  const size = view.size;
  const columns = Math.max(1, Math.floor((width - GAP) / (size + GAP)));
  const rowHeight = size + CAPTION + GAP;
  // every parameter the samples query sends (a filter added to the URL state is in it at once: excluded
  // tags and stored selections were missing from a hand-written list)
  const filterKey = JSON.stringify([datasetId, samplesQuery(view)]);

  const [total, setTotal] = useState<number | null>(null);
  const rowCount = total === null ? 0 : Math.ceil(total / columns);
  const virtualizer = useVirtualizer({
    count: rowCount,
    getScrollElement: () => scroller.current,
    estimateSize: () => rowHeight,
    overscan: OVERSCAN_ROWS,
    paddingStart: GAP,
  });
  useEffect(() => virtualizer.measure(), [virtualizer, rowHeight, columns]);

  const rows = virtualizer.getVirtualItems();
  // consecutive indices modulo a count at least theirs are distinct keys, and stay put while scrolling
  const slots = Math.max(ROW_SLOTS, rows.length);
  const firstIndex = rows.length ? rows[0].index * columns : 0;
  const lastIndex = rows.length ? (rows[rows.length - 1].index + 1) * columns - 1 : 0;
  const inView = useMemo(() => {
    const list: number[] = [];
    for (let p = Math.floor(firstIndex / PAGE_SIZE); p <= Math.floor(lastIndex / PAGE_SIZE); p++) list.push(p);
    return list;
  }, [firstIndex, lastIndex]);
  // while the grid flies past, no new page is requested; those still in view stay, the rest are cancelled
  const fast = useFastScroll(virtualizer.scrollOffset ?? 0);
  const requested = useRef<number[]>(inView);
  const held = fast ? requested.current.filter((p) => inView.includes(p)) : inView;
  if (held.length !== requested.current.length || held.some((p, i) => p !== requested.current[i])) requested.current = held;
  const pages = requested.current;
  // a run named in the URL that no longer exists is dropped, not sent (the API answers 404 for it)
  const runs = usePredictionRuns(datasetId);
  const pageView = useMemo(() => {
    const known = runs.data?.map((r) => r.run);
    return known ? { ...view, show: view.show.filter((r) => known.includes(r)) } : view;
  }, [view, runs.data]);
  const results = useGridPages(datasetId, pageView, pages);

  const byPage = useRef(new Map<number, PageItem[]>());
  const pageKey = filterKey + pageView.show.join("\u0000");
  const currentKey = useRef(pageKey);
  if (currentKey.current !== pageKey) {
    currentKey.current = pageKey;
    byPage.current = new Map();
  }
  results.forEach((r, i) => {
    if (r.data && !r.isPlaceholderData) byPage.current.set(pages[i], r.data.items);
  });
  const latest = results.find((r) => r.data && !r.isPlaceholderData)?.data ?? results[0]?.data;
  useEffect(() => {
    if (latest) setTotal(latest.total);
  }, [latest]);
  const firstError = results.find((r) => r.isError);
  useEffect(() => {
    if (firstError) gridPainted(datasetId); // nothing to wait for
  }, [firstError, datasetId]);
  // boxes of the evaluation view's confusion cell / error category, lit on each loaded page
  const highlights = useHighlights(datasetId, view, results.map((r) => (r.data && !r.isPlaceholderData ? r.data.items.map((i) => i.id) : undefined)));

  const itemAt = useCallback((index: number) => byPage.current.get(Math.floor(index / PAGE_SIZE))?.[index % PAGE_SIZE], []);
  const idAt = useCallback((index: number) => itemAt(index)?.id, [itemAt]);
  const { selection, toggle, range, selectAll, clear } = useSelection(idAt);

  // a new filter or order starts at the top with an empty selection
  const previousFilter = useRef(filterKey);
  const pendingMark = useRef<"grid-painted" | "grid-updated" | null>("grid-painted");
  const loaded = useRef(new Set<number>());
  useLayoutEffect(() => {
    gridPending(datasetId); // opened: the sidebar's requests wait for the first screen
    return () => gridGone(datasetId);
  }, [datasetId]);
  useEffect(() => {
    if (previousFilter.current === filterKey) return;
    previousFilter.current = filterKey;
    pendingMark.current = "grid-updated";
    gridPending(datasetId);
    loaded.current = new Set();
    clear();
    virtualizer.scrollToOffset(0);
  }, [filterKey, clear, virtualizer, datasetId]);

  // performance marks for bench/app.py: the first grid page (thumbnails and boxes) has rendered, and
  // the grid after a filter change has
  const checkPainted = useCallback(() => {
    const mark = pendingMark.current;
    if (!mark || total === null) return;
    if (total > 0) {
      const range = virtualizer.range;
      if (!range) return;
      const end = Math.min(total, (range.endIndex + 1) * columns);
      for (let i = range.startIndex * columns; i < end; i++) if (!loaded.current.has(i) || !itemAt(i)) return;
    }
    pendingMark.current = null;
    performance.mark(mark);
    gridPainted(datasetId);
  }, [total, columns, virtualizer, itemAt, datasetId]);
  const onDone = useCallback(
    (index: number) => {
      loaded.current.add(index);
      checkPainted();
    },
    [checkPainted],
  );
  useEffect(() => {
    if (total === 0) checkPainted();
  }, [total, checkPainted]);

  const onToggle = useCallback(
    (index: number, event: React.MouseEvent) => (event.shiftKey ? range(index) : toggle(index)),
    [range, toggle],
  );
  const selecting = selection.all || selection.ids.size > 0;
  const onClick = useCallback(
    (index: number, event: React.MouseEvent) => {
      if (event.shiftKey) range(index);
      else if (event.ctrlKey || event.metaKey || selecting) toggle(index);
      else setView({ open: index, sid: undefined });
    },
    [range, toggle, selecting, setView],
  );

  const display: BoxDisplay = useMemo(
    () => ({ gt: view.gt, runs: view.show, conf: view.conf, labels: view.labels }),
    [view.gt, view.show, view.conf, view.labels],
  );
  const sizeStep = (step: number) => {
    const i = THUMB_SIZES.indexOf(size as (typeof THUMB_SIZES)[number]);
    const next = THUMB_SIZES[Math.min(THUMB_SIZES.length - 1, Math.max(0, (i < 0 ? 2 : i) + step))];
    setView({ size: next }, { replace: true });
  };
  useHotkeys(
    {
      l: () => setView({ labels: !view.labels }, { replace: true }),
      g: () => setView({ gt: !view.gt }, { replace: true }),
      "+": () => sizeStep(1),
      "=": () => sizeStep(1),
      "-": () => sizeStep(-1),
    },
    view.open === undefined && view.sid === undefined,
  );

  const loadingFirst = total === null && !firstError;
  return (
    <section className="grid-area">
      <EvalFilterBar view={view} setView={setView} />
      <GridToolbar view={view} setView={setView} total={total} runs={runs.data ?? []} runsError={runs.error} />
      {selecting && (
        <SelectionBar datasetId={datasetId} view={view} total={total ?? 0} selection={selection} onSelectAll={selectAll} onClear={clear} />
      )}
      <div className="grid-scroll" ref={scroller} data-testid="grid" role="grid" aria-rowcount={rowCount} aria-busy={loadingFirst}>
        {loadingFirst && <Spinner label="Loading samples…" />}
        {firstError && total === null && <ErrorMessage error={firstError.error} title="Cannot load the samples" onRetry={() => firstError.refetch()} />}
        {total === 0 && (
          <EmptyState title="No samples match these filters">
            <p>Loosen a filter in the sidebar, or clear them all.</p>
          </EmptyState>
        )}
        {total !== null && total > 0 && (
          <div className="grid-inner" style={{ height: virtualizer.getTotalSize() + GAP, ["--thumb" as string]: `${size}px` }}>
            {rows.map((row) => {
              // rows are keyed by slot, not index: a row scrolled out is reused for the one scrolled in,
              // so scrolling updates a few attributes instead of rebuilding every row's DOM each frame
              const cells = [];
              for (let c = 0; c < columns; c++) {
                const index = row.index * columns + c;
                if (index >= total) break;
                const item = itemAt(index);
                cells.push(
                  item ? (
                    <Thumb
                      key={item.id}
                      item={item}
                      index={index}
                      size={size}
                      display={display}
                      highlighted={highlights?.get(item.id)}
                      selected={selection.all || selection.ids.has(item.id)}
                      onClick={onClick}
                      onToggle={onToggle}
                      onDone={onDone}
                    />
                  ) : (
                    <div key={`p${c}`} className="cell placeholder" data-index={index}>
                      <div className="thumb" />
                      <div className="caption" />
                    </div>
                  ),
                );
              }
              return (
                <div
                  key={row.index % slots}
                  className="grid-row"
                  role="row"
                  style={{ transform: `translateY(${row.start}px)`, height: rowHeight - GAP, gridTemplateColumns: `repeat(${columns}, ${size}px)`, gap: GAP }}
                >
                  {cells}
                </div>
              );
            })}
          </div>
        )}
      </div>
    </section>
  );
}
