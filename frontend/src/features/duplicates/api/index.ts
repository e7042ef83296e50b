import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "@/lib/api/client";
import { embeddingsQuery } from "@/lib/api/queries";
import type { components } from "@/lib/api/schema";

type Schemas = components["schemas"];
export type Duplicates = Schemas["Duplicates"];
export type DuplicateGroup = Schemas["DuplicateGroup"];
export type DuplicatesTagged = Schemas["DuplicatesTagged"];

export function useEmbedded(datasetId: number) {
  return useQuery({ ...embeddingsQuery(datasetId), retry: false });
}

/** The groups at a threshold, `limit` of them (largest first); the previous answer stays while the next loads. */
export function useDuplicates(datasetId: number, threshold: number, limit: number, enabled: boolean) {
  return useQuery({
    queryKey: ["duplicates", datasetId, threshold, limit],
    queryFn: ({ signal }) => api.get<Duplicates>(`/datasets/${datasetId}/duplicates`, { threshold, limit }, signal),
    enabled,
    retry: false,
    placeholderData: keepPreviousData,
  });
}

/** Keep one sample per group (the rule's, or the ones in `keep`) and tag the others `duplicate`. */
export function useTagDuplicates(datasetId: number) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: { threshold: number; keep: number[] }) => api.post<DuplicatesTagged>(`/datasets/${datasetId}/duplicates/tag`, body),
    // tags changed: every count, page and colouring that shows tags is stale
    onSuccess: () => client.invalidateQueries({ predicate: (q) => ["duplicates", "samples", "facets", "statistics", "distributions", "sample", "map-colors"].includes(String(q.queryKey[0])) }),
  });
}

export function useSaveView(datasetId: number) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: { name: string; filters: Record<string, unknown> }) => api.post<{ id: number }>(`/datasets/${datasetId}/views`, body),
    onSuccess: () => client.invalidateQueries({ queryKey: ["views", datasetId] }),
  });
}
