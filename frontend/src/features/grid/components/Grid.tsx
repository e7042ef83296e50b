import { useVirtualizer } from "@tanstack/react-virtual";
import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { EmptyState, ErrorMessage, Spinner } from "@/components/feedback";
import { useHotkeys } from "@/hooks/useHotkeys";
import type { PageItem } from "@/lib/api/page-boxes";
import { samplesPageQuery } from "@/lib/api/queries";
import { THUMB_SIZES, type ViewState } from "@/lib/url-state";
import { PAGE_SIZE, useGridPages, usePredictionRuns } from "../api";
import { gridGone, gridKey, gridPainted, gridPending } from "@/lib/grid-status";
import { EvalFilterBar, useHighlights } from "@/lib/highlights";
import { useFastScroll } from "../hooks/useFastScroll";
import { useSelection } from "../hooks/useSelection";
import { GridToolbar } from "./GridToolbar";
import { SelectionBar } from "./SelectionBar";
import type { BoxDisplay } from "../boxes";
import { RowBoxes } from "./RowBoxes";
import { Thumb, thumbUrl } from "./Thumb";

const GAP = 8;
const CAPTION = 24;
const OVERSCAN_ROWS = 2;
/** `.thumb`'s border (styles.css): the image and its boxes fill the square inside it */
const THUMB_BORDER = 1;

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
  const viewKey = gridKey(view);
  const filterKey = JSON.stringify([datasetId, viewKey]);
  // a new filter or order starts at the top (the scroll is reset after this render commits)
  const previousFilter = useRef(filterKey);
  const fresh = previousFilter.current !== filterKey;

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
  // rows are keyed by index modulo the most rows the viewport holds: consecutive indices get distinct keys,
  // and the row leaving at one end has the key of the one entering at the other, so React reuses its DOM
  // (and its canvas) instead of building a new row per row scrolled in (a modulo of 64 never matched)
  const viewRows = Math.ceil((virtualizer.scrollRect?.height ?? 0) / rowHeight) + 1 + 2 * OVERSCAN_ROWS;
  const slots = Math.max(viewRows, rows.length);
  // after a filter change the pages at the top, not those at the old scroll offset (a wasted request on a
  // one-process server, cancelled only after the scroll reset)
  const topRows = Math.ceil((virtualizer.scrollRect?.height ?? 0) / rowHeight) + OVERSCAN_ROWS;
  const firstIndex = fresh ? 0 : rows.length ? rows[0].index * columns : 0;
  const lastIndex = fresh ? Math.max(1, topRows) * columns - 1 : rows.length ? (rows[rows.length - 1].index + 1) * columns - 1 : 0;
  const inView = useMemo(() => {
    const list: number[] = [];
    for (let p = Math.floor(firstIndex / PAGE_SIZE); p <= Math.floor(lastIndex / PAGE_SIZE); p++) list.push(p);
    return list;
  }, [firstIndex, lastIndex]);
  // while the grid flies past, no new page is requested; those still in view stay, the rest are cancelled
  const fast = useFastScroll(virtualizer.scrollOffset ?? 0, () => scroller.current);
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
  // the first page's request starts during this render, not after the commit of the whole view (the old
  // screen's cells to unmount, the sidebar) when the query's observer subscribes
  const client = useQueryClient();
  const preloaded = useRef<HTMLImageElement[]>([]);
  if (pages.length > 0) {
    const first = samplesPageQuery(datasetId, pageView, pages[0]);
    if (!client.getQueryState(first.queryKey)) {
      // the screen's thumbnails are asked for as soon as its page is parsed, not after React has rendered and
      // committed the new screen (20-90 ms later on a busy machine, bench/app.py); the cells' <img> find them in
      // the image cache by the same URL. Only the rows in view at the top: the rest wait for the screen's paint.
      const onScreen = pages[0] === 0 ? Math.ceil((virtualizer.scrollRect?.height ?? 0) / rowHeight) * columns : 0;
      void client.prefetchQuery(first).then(() => {
        const items = client.getQueryData(first.queryKey)?.items ?? [];
        preloaded.current = items.slice(0, onScreen).map((item) => {
          const image = new Image();
          image.decoding = "async";
          image.src = thumbUrl(item.id, size);
          return image; // kept until the next screen's: a collected image could drop its request
        });
      });
    }
  }
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
  // before the browser paints: the rows of the new count are in the same frame as the page
  useLayoutEffect(() => {
    if (latest) setTotal(latest.total);
  }, [latest]);
  const firstError = results.find((r) => r.isError);
  useEffect(() => {
    if (!firstError) return;
    gridPainted(datasetId, viewKey); // nothing to wait for
    setScreenDone(true);
  }, [firstError, datasetId, viewKey]);
  // boxes of the evaluation view's confusion cell / error category, lit on each loaded page
  const highlights = useHighlights(datasetId, view, results.map((r) => (r.data && !r.isPlaceholderData ? r.data.items.map((i) => i.id) : undefined)));

  const itemAt = useCallback((index: number) => byPage.current.get(Math.floor(index / PAGE_SIZE))?.[index % PAGE_SIZE], []);
  const idAt = useCallback((index: number) => itemAt(index)?.id, [itemAt]);
  const { selection, toggle, range, selectAll, clear } = useSelection(idAt);

  // a new filter or order starts at the top with an empty selection
  const pendingMark = useRef<"grid-painted" | "grid-updated" | null>("grid-painted");
  const drawn = useRef({ boxes: new Set<number>(), image: new Set<number>(), boxesMarked: false });
  // until the screen has painted, the rows below it (overscan) do not ask for their thumbnails: on a
  // one-process server they competed with the screen's own (bench/app.py)
  const [screenDone, setScreenDone] = useState(false);
  const openedKey = useRef(viewKey);
  useLayoutEffect(() => {
    gridPending(datasetId, openedKey.current); // opened: the sidebar's requests wait for the first screen
    return () => gridGone(datasetId);
  }, [datasetId]);
  useLayoutEffect(() => {
    if (previousFilter.current === filterKey) return;
    previousFilter.current = filterKey;
    pendingMark.current = "grid-updated";
    gridPending(datasetId, viewKey);
    drawn.current = { boxes: new Set(), image: new Set(), boxesMarked: false };
    setScreenDone(false);
    clear();
    virtualizer.scrollToOffset(0);
  }, [filterKey, viewKey, clear, virtualizer, datasetId]);

  // performance marks for bench/app.py: `grid-painted` when the first screen (its cells, their boxes drawn
  // and their thumbnails loaded or failed) has rendered, `grid-updated` when the screen after a filter change
  // has; `<mark>:boxes` when the screen's cells and boxes are drawn (its thumbnails may still be loading)
  const checkPainted = useCallback(() => {
    const mark = pendingMark.current;
    if (!mark || total === null) return;
    const done = drawn.current;
    if (total > 0) {
      const range = virtualizer.range;
      if (!range) return;
      const end = Math.min(total, (range.endIndex + 1) * columns);
      for (let i = range.startIndex * columns; i < end; i++) if (!done.boxes.has(i) || !itemAt(i)) return;
      if (!done.boxesMarked) performance.mark(`${mark}:boxes`);
      done.boxesMarked = true;
      for (let i = range.startIndex * columns; i < end; i++) if (!done.image.has(i)) return;
    } else performance.mark(`${mark}:boxes`);
    pendingMark.current = null;
    performance.mark(mark);
    gridPainted(datasetId, viewKey);
    setScreenDone(true);
  }, [total, columns, virtualizer, itemAt, datasetId, viewKey]);
  // one callback for every cell's life (a new one would re-render every cell): the latest check runs
  const check = useRef(checkPainted);
  check.current = checkPainted;
  const onDone = useCallback((index: number, part: "image" | "boxes") => {
    // once the screen is marked nothing waits: the sets would otherwise grow by every cell scrolled past
    if (!pendingMark.current) return;
    drawn.current[part].add(index);
    check.current();
  }, []);
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

  // cells that a scroll brings in wait a frame for their thumbnails (never those of a screen being marked)
  const scrolling = virtualizer.isScrolling && pendingMark.current === null;
  const loadingFirst = total === null && !firstError;
  const shown = virtualizer.range;
  const visible = shown ? [shown.startIndex * columns, (shown.endIndex + 1) * columns - 1] : null;
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
              const cells = [];
              const rowItems: (PageItem | undefined)[] = [];
              for (let c = 0; c < columns; c++) {
                const index = row.index * columns + c;
                if (index >= total) break;
                const item = itemAt(index);
                rowItems.push(item);
                const below = !screenDone && (visible === null || index < visible[0] || index > visible[1]);
                cells.push(
                  item ? (
                    <Thumb
                      key={item.id}
                      item={item}
                      index={index}
                      size={size}
                      selected={selection.all || selection.ids.has(item.id)}
                      onClick={onClick}
                      onToggle={onToggle}
                      onDone={onDone}
                      deferImage={below}
                      lazyImage={scrolling}
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
                  <RowBoxes
                    items={rowItems}
                    first={row.index * columns}
                    columns={columns}
                    size={size}
                    gap={GAP}
                    border={THUMB_BORDER}
                    display={display}
                    highlights={highlights}
                    onDrawn={onDone}
                  />
                </div>
              );
            })}
          </div>
        )}
      </div>
    </section>
  );
}
