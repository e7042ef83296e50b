import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "@/lib/api/client";
import { embeddingsQuery, predictionsQuery } from "@/lib/api/queries";
import type { Facets, SavedView } from "@/lib/api/types";
import type { SampleFilters } from "@/lib/url-state";

/** Counts per split, category and tag among the samples matching the other filters. */
export function useFacets(datasetId: number, filters: SampleFilters) {
  return useQuery({
    queryKey: ["facets", datasetId, filters],
    queryFn: ({ signal }) => api.get<Facets>(`/datasets/${datasetId}/facets`, { ...filters }, signal),
    placeholderData: keepPreviousData,
  });
}

export function usePredictionRuns(datasetId: number) {
  return useQuery(predictionsQuery(datasetId));
}

export function useEmbeddings(datasetId: number) {
  return useQuery({ ...embeddingsQuery(datasetId), retry: false });
}

export function useSavedViews(datasetId: number) {
  return useQuery({
    queryKey: ["views", datasetId],
    queryFn: ({ signal }) => api.get<SavedView[]>(`/datasets/${datasetId}/views`, undefined, signal),
  });
}

export function useSaveView(datasetId: number) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: { name: string; filters: SampleFilters }) => api.post<SavedView>(`/datasets/${datasetId}/views`, body),
    onSuccess: () => client.invalidateQueries({ queryKey: ["views", datasetId] }),
  });
}

export function useDeleteView(datasetId: number) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (viewId: number) => api.delete(`/datasets/${datasetId}/views/${viewId}`),
    onSuccess: () => client.invalidateQueries({ queryKey: ["views", datasetId] }),
  });
}
