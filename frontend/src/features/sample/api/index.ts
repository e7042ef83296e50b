import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "@/lib/api/client";
import { embeddingsQuery, PAGE_SIZE, sampleQuery, samplesPageQuery } from "@/lib/api/queries";
import type { SimilarHit, TagEditResult } from "@/lib/api/types";
import type { ViewState } from "@/lib/url-state";

/** The id at position `index` of the grid's list: read from the same cached page the grid uses. */
export function useSampleAt(datasetId: number, view: ViewState, index: number | undefined) {
  const page = index === undefined ? 0 : Math.floor(index / PAGE_SIZE);
  const query = useQuery({ ...samplesPageQuery(datasetId, view, page), enabled: index !== undefined, placeholderData: undefined });
  const item = index === undefined ? undefined : query.data?.items[index % PAGE_SIZE];
  return { id: item?.id, total: query.data?.total, query };
}

export function useSample(sampleId: number | undefined) {
  return useQuery({ ...sampleQuery(sampleId ?? 0), enabled: sampleId !== undefined });
}

export function useEmbedded(datasetId: number) {
  const status = useQuery({ ...embeddingsQuery(datasetId), retry: false });
  return (status.data?.models ?? []).length > 0;
}

export function useSimilar(sampleId: number | undefined, enabled: boolean) {
  return useQuery({
    queryKey: ["similar", sampleId],
    queryFn: ({ signal }) => api.get<SimilarHit[]>(`/samples/${sampleId}/similar`, { k: 12 }, signal),
    enabled: enabled && sampleId !== undefined,
    retry: false,
    staleTime: 60_000,
  });
}

export function useSampleTags(datasetId: number, sampleId: number | undefined) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (edit: { add?: string[]; remove?: string[] }) =>
      api.post<TagEditResult>(`/datasets/${datasetId}/tags`, { sample_ids: [sampleId], add: edit.add ?? [], remove: edit.remove ?? [] }),
    onSuccess: () =>
      Promise.all([
        client.invalidateQueries({ queryKey: ["sample", sampleId] }),
        client.invalidateQueries({ queryKey: ["samples", datasetId] }),
        client.invalidateQueries({ queryKey: ["facets", datasetId] }),
      ]),
  });
}
