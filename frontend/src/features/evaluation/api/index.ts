import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api } from "@/lib/api/client";
import { predictionsQuery } from "@/lib/api/queries";
import type { components } from "@/lib/api/schema";

export type Evaluation = components["schemas"]["Evaluation"];
export type ClassEvaluation = components["schemas"]["ClassEvaluation"];
export type ScoreThresholds = components["schemas"]["ScoreThresholds"];
export type SamplesPage = components["schemas"]["SamplesPage"];

export function useRuns(datasetId: number) {
  return useQuery(predictionsQuery(datasetId));
}

/** The stored evaluation reply of a run at an IoU (computed on first use at that IoU). */
export function useEvaluation(datasetId: number, run: string | undefined, iou: number, split?: string) {
  return useQuery({
    queryKey: ["evaluation", datasetId, run, iou, split],
    queryFn: ({ signal }) => api.get<Evaluation>(`/datasets/${datasetId}/evaluation`, { run, iou, split }, signal),
    enabled: Boolean(run),
    placeholderData: keepPreviousData,
    staleTime: 30_000,
  });
}

// the view's secondary replies wait for `after` (the evaluation reply itself), which then has the
// single server to itself: it is what the first paint shows
export function useThresholds(datasetId: number, run: string | undefined, iou: number, split?: string, after = true) {
  return useQuery({
    queryKey: ["eval-thresholds", datasetId, run, iou, split],
    queryFn: ({ signal }) => api.get<ScoreThresholds>(`/datasets/${datasetId}/evaluation/thresholds`, { run, iou, split }, signal),
    enabled: Boolean(run) && after,
    staleTime: 30_000,
  });
}

/** The worst images of a run first (sort_by=worst), a few for the strip. */
export function useWorst(datasetId: number, run: string | undefined, iou: number, split?: string, after = true) {
  return useQuery({
    queryKey: ["eval-worst", datasetId, run, iou, split],
    queryFn: ({ signal }) =>
      api.get<SamplesPage>(`/datasets/${datasetId}/samples`, { eval_run: run, eval_iou: iou, split, sort_by: "worst", limit: 12 }, signal),
    enabled: Boolean(run) && after,
    staleTime: 30_000,
  });
}
