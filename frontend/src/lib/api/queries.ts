// Query definitions shared by several views (one cache entry each, whichever view asks first).
import { keepPreviousData, queryOptions } from "@tanstack/react-query";
import { api } from "./client";
import { decodePage, type DecodedPage } from "./page-boxes";
import type { Dataset, PredictionRun, SampleDetail, SamplesPage, EmbeddingsStatus } from "./types";
import { samplesQuery, type ViewState } from "../url-state";

/** Samples per grid page: one request fetches a page with its boxes. */
export const PAGE_SIZE = 100;

export const datasetQuery = (id: number) =>
  queryOptions({ queryKey: ["dataset", id], queryFn: ({ signal }) => api.get<Dataset>(`/datasets/${id}`, undefined, signal) });

export const predictionsQuery = (datasetId: number) =>
  queryOptions({
    queryKey: ["predictions", datasetId],
    queryFn: ({ signal }) => api.get<PredictionRun[]>(`/datasets/${datasetId}/predictions`, undefined, signal),
  });

export const embeddingsQuery = (datasetId: number) =>
  queryOptions({
    queryKey: ["embeddings", datasetId],
    queryFn: ({ signal }) => api.get<EmbeddingsStatus>(`/datasets/${datasetId}/embeddings`, undefined, signal),
    staleTime: 60_000,
  });

/** The part of the view that decides which samples, in which order, with which boxes a page holds. */
export function pageKeyOf(view: ViewState) {
  return { ...samplesQuery(view), runs: [...view.show].sort() };
}

export const samplesPageQuery = (datasetId: number, view: ViewState, page: number) => {
  const key = pageKeyOf(view);
  return queryOptions({
    queryKey: ["samples", datasetId, key, page],
    // consuming `signal` lets TanStack Query abort the request when its rows scroll out of view
    queryFn: ({ signal }): Promise<DecodedPage> =>
      api
        .get<SamplesPage>(
          `/datasets/${datasetId}/samples`,
          { ...samplesQuery(view), offset: page * PAGE_SIZE, limit: PAGE_SIZE, boxes: true, runs: key.runs },
          signal,
        )
        .then(decodePage),
    placeholderData: page === 0 ? keepPreviousData : undefined,
    staleTime: 30_000,
  });
};

export const sampleQuery = (sampleId: number) =>
  queryOptions({
    queryKey: ["sample", sampleId],
    queryFn: ({ signal }) => api.get<SampleDetail>(`/samples/${sampleId}`, undefined, signal),
    staleTime: 30_000,
  });
