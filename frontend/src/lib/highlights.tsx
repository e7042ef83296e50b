// The evaluation slice the grid lights up (shared by the grid and the evaluation view, so neither feature
// imports the other): the boxes of a confusion cell / error category on each grid page, and the bar naming
// that filter. Kept tiny: the evaluation view itself is lazy-loaded.
import { useQueries } from "@tanstack/react-query";
import { useMemo } from "react";
import { api } from "@/lib/api/client";
import type { components } from "@/lib/api/schema";
import type { ViewState } from "@/lib/url-state";

type HighlightedBoxes = components["schemas"]["HighlightedBoxes"];

export const ERROR_LABELS: Record<string, string> = {
  tp: "true positives",
  localisation: "localisation errors",
  class_confusion: "class confusions",
  duplicate: "duplicates",
  background: "background (false) detections",
  missed: "missed boxes",
  crowd: "matched to crowd",
  over_max_dets: "beyond max detections",
};

function cellOf(view: ViewState) {
  if (!view.run) return null;
  const cell = view.actual !== undefined && view.predicted !== undefined;
  if (!cell && view.error === undefined) return null;
  return {
    run: view.run,
    iou: view.iou,
    actual: cell ? view.actual : undefined,
    predicted: cell ? view.predicted : undefined,
    error: view.error,
  };
}

/** sample id -> lit annotation ids, over the grid's loaded pages (one request per page), or null. */
export function useHighlights(datasetId: number, view: ViewState, pages: (number[] | undefined)[]) {
  const cell = cellOf(view);
  const results = useQueries({
    queries: pages.map((ids) => ({
      queryKey: ["eval-boxes", datasetId, cell, ids],
      queryFn: ({ signal }: { signal: AbortSignal }) =>
        api.get<HighlightedBoxes>(`/datasets/${datasetId}/evaluation/boxes`, { ...cell, sample_id: ids }, signal),
      enabled: cell !== null && ids !== undefined && ids.length > 0,
      staleTime: 60_000,
    })),
  });
  const stamp = results.map((r) => r.dataUpdatedAt).join(",");
  return useMemo(() => {
    if (!cell) return null;
    const out = new Map<number, Set<number>>();
    for (const r of results) for (const item of r.data?.items ?? []) out.set(item.sample_id, new Set(item.annotation_ids));
    return out;
  }, [stamp, cell === null]);
}

/** Which evaluation slice the grid shows, with a way out. */
export function EvalFilterBar({ view, setView }: { view: ViewState; setView: (change: Partial<ViewState>) => void }) {
  const cell = cellOf(view);
  if (!cell) return null;
  const what = [
    cell.actual !== undefined ? `actual ${cell.actual} → predicted ${cell.predicted}` : null,
    cell.error !== undefined ? ERROR_LABELS[cell.error] ?? cell.error : null,
  ]
    .filter(Boolean)
    .join(" · ");
  return (
    <div className="eval-filter" data-testid="eval-filter">
      <span>
        <strong>{cell.run}</strong> @ IoU {cell.iou ?? 0.5}: {what} <span className="muted small">(those boxes are lit)</span>
      </span>
      <button type="button" className="link" onClick={() => setView({ actual: undefined, predicted: undefined, error: undefined })}>
        clear
      </button>
    </div>
  );
}
