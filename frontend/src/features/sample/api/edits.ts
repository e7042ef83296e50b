import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError, api } from "@/lib/api/client";
import type { components } from "@/lib/api/schema";
import type { Annotation, Facets } from "@/lib/api/types";

type Schemas = components["schemas"];
export type EditReply = Schemas["EditReply"];
export type StepReply = Schemas["StepReply"];
export type HistoryPage = Schemas["HistoryPage"];
export type HistoryEntry = Schemas["HistoryEntry"];
export type CategoryReply = Schemas["CategoryReply"];
export type ReviewReply = Schemas["ReviewReply"];
export type ReviewStatus = Schemas["Review"]["status"];
export type VerdictValue = NonNullable<Schemas["Verdict"]["verdict"]>;

/** A box of GET /samples/{id} with the fields the sample reply carries beyond its declared model. */
export type EditableBox = Annotation & { version: number; verdict: string | null; category_id: number };

export const REVIEW_STATUSES: ReviewStatus[] = ["unreviewed", "reviewed", "needs_fix"];

/**
 * Edits that lost a race: someone else changed the box first (409) or deleted it (404: the edit routes name
 * boxes and samples that existed when this view loaded them); the user decides to reload.
 */
export function isConflict(error: unknown): error is ApiError {
  return error instanceof ApiError && (error.status === 409 || error.status === 404);
}

/** Everything an edit can change: the sample, the grid's pages and facets, evaluations, histories. */
function useRefresh() {
  const client = useQueryClient();
  return () => client.invalidateQueries({ predicate: (q) => !["embeddings", "similar", "views", "files"].includes(String(q.queryKey[0])) });
}

export interface BoxChange {
  box: EditableBox;
  bbox?: number[];
  category?: string;
}

/**
 * After a ground-truth edit the backend marks the evaluations of the dataset stale; reading them brings them
 * up to date (incrementally: the edited image only), so the sample's per-box results refetched next are current.
 */
async function followEvaluation(datasetId: number, reply: unknown) {
  const effect = (reply as { evaluation?: Schemas["EvaluationEffect"] } | undefined)?.evaluation;
  if (effect?.state !== "stale") return;
  await Promise.all(
    effect.runs.map((r) => api.get(`/datasets/${datasetId}/evaluation`, { run: r.run, iou: r.iou }).catch(() => undefined)),
  );
}

export function useEditActions(datasetId: number) {
  const refresh = useRefresh();
  const done = { onSuccess: (reply: unknown) => followEvaluation(datasetId, reply), onSettled: refresh };
  const update = useMutation({
    mutationFn: ({ box, bbox, category }: BoxChange) =>
      api.patch<EditReply>(`/annotations/${box.id}`, { version: box.version, ...(bbox ? { bbox } : {}), ...(category ? { category } : {}) }),
    ...done,
  });
  const create = useMutation({
    mutationFn: ({ sampleId, bbox, category }: { sampleId: number; bbox: number[]; category: string }) =>
      api.post<EditReply>(`/samples/${sampleId}/annotations`, { bbox, category }),
    ...done,
  });
  const remove = useMutation({
    mutationFn: (box: EditableBox) => api.delete<EditReply>(`/annotations/${box.id}`, { version: box.version }),
    ...done,
  });
  const verdict = useMutation({
    mutationFn: ({ box, verdict }: { box: EditableBox; verdict: VerdictValue | null }) =>
      api.put<EditReply>(`/annotations/${box.id}/verdict`, { verdict, version: box.version }),
    ...done,
  });
  const promote = useMutation({
    mutationFn: (box: EditableBox) => api.post<EditReply>(`/annotations/${box.id}/promote`, {}),
    ...done,
  });
  const review = useMutation({
    mutationFn: ({ sampleId, status }: { sampleId: number; status: ReviewStatus }) =>
      api.put<ReviewReply>(`/samples/${sampleId}/review`, { status }),
    ...done,
  });
  const addCategory = useMutation({
    mutationFn: (name: string) => api.post<CategoryReply>(`/datasets/${datasetId}/categories`, { name }),
    ...done,
  });
  const undo = useMutation({ mutationFn: () => api.post<StepReply>(`/datasets/${datasetId}/undo`, {}), ...done });
  const redo = useMutation({ mutationFn: () => api.post<StepReply>(`/datasets/${datasetId}/redo`, {}), ...done });
  const mutations = [update, create, remove, verdict, promote, review, addCategory, undo, redo];
  return { update, create, remove, verdict, promote, review, addCategory, undo, redo, refresh, busy: mutations.some((m) => m.isPending) };
}
export type EditActions = ReturnType<typeof useEditActions>;

/** The dataset's category names (every one, with or without boxes), for the class picker. */
export function useCategories(datasetId: number) {
  const facets = useQuery({
    queryKey: ["facets", datasetId, {}],
    queryFn: ({ signal }) => api.get<Facets>(`/datasets/${datasetId}/facets`, {}, signal),
  });
  return (facets.data?.categories ?? []).map((c) => c.value);
}

export const HISTORY_PAGE = 20;

/** The sample's edit history, newest first, a page at a time (`fetchNextPage` for older entries). */
export function useSampleHistory(sampleId: number | undefined) {
  return useInfiniteQuery({
    queryKey: ["sample-history", sampleId],
    queryFn: ({ signal, pageParam }) =>
      api.get<HistoryPage>(`/samples/${sampleId}/history`, { limit: HISTORY_PAGE, offset: pageParam }, signal),
    initialPageParam: 0,
    getNextPageParam: (last) => (last.offset + last.items.length < last.total ? last.offset + last.items.length : undefined),
    enabled: sampleId !== undefined,
  });
}
