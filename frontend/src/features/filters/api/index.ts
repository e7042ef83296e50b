import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useState, useSyncExternalStore } from "react";
import { useGridPainted } from "@/lib/grid-status";
import { api } from "@/lib/api/client";
import { embeddingsQuery, predictionsQuery } from "@/lib/api/queries";
import type { Facets, SavedView } from "@/lib/api/types";
import type { SampleFilters, ViewState } from "@/lib/url-state";

/**
 * Whether the grid's samples pages are in: one has answered (data or error) and none is loading. The
 * sidebar's requests wait for it: the server is one process on a few cores, and the facets of a filter
 * cost more than the page itself, so sent together they delayed the grid (bench/app.py). The grid never
 * waits for the sidebar. A query that waits keeps showing its previous data.
 */
export function useGridSettled(datasetId: number, view: ViewState, besideGrid = true): boolean {
  const cache = useQueryClient().getQueryCache();
  const subscribe = useCallback((onChange: () => void) => cache.subscribe(onChange), [cache]);
  const snapshot = () => {
    const pages = cache.findAll({ queryKey: ["samples", datasetId] });
    return pages.some((q) => q.state.status !== "pending") && !pages.some((q) => q.state.fetchStatus === "fetching");
  };
  const pages = useSyncExternalStore(subscribe, snapshot);
  // and its screen has painted: the screen's thumbnails come after the pages, and the facets sent with
  // them delayed the paint; after PAINT_WAIT_MS of settled pages nothing waits any more (thumbnails that hang)
  const painted = useGridPainted(datasetId, view);
  const [waited, setWaited] = useState(false);
  useEffect(() => {
    setWaited(false);
    if (!besideGrid || !pages || painted) return;
    const timer = window.setTimeout(() => setWaited(true), PAINT_WAIT_MS);
    return () => window.clearTimeout(timer);
  }, [besideGrid, pages, painted]);
  // without a grid there are no pages to wait for: an analysis view opened by its URL never had any
  return !besideGrid || (pages && (painted || waited));
}

const PAINT_WAIT_MS = 2000;

/** Counts per split, category and tag among the samples matching the other filters. */
export function useFacets(datasetId: number, filters: SampleFilters, enabled = true) {
  return useQuery({
    queryKey: ["facets", datasetId, filters],
    queryFn: ({ signal }) => api.get<Facets>(`/datasets/${datasetId}/facets`, { ...filters }, signal),
    placeholderData: keepPreviousData,
    enabled,
    // our own edits invalidate it (tags); waiting for the grid must not turn into a refetch per scroll
    staleTime: 5 * 60_000,
  });
}

export function usePredictionRuns(datasetId: number) {
  return useQuery(predictionsQuery(datasetId));
}

export function useEmbeddings(datasetId: number, enabled = true) {
  return useQuery({ ...embeddingsQuery(datasetId), retry: false, enabled });
}

export function useSavedViews(datasetId: number, enabled = true) {
  return useQuery({
    queryKey: ["views", datasetId],
    queryFn: ({ signal }) => api.get<SavedView[]>(`/datasets/${datasetId}/views`, undefined, signal),
    enabled,
    staleTime: 5 * 60_000, // saving or deleting a view invalidates it
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
