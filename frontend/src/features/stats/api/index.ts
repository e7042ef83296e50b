import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api } from "@/lib/api/client";
import type { components } from "@/lib/api/schema";
import type { SampleFilters } from "@/lib/url-state";

export type Statistics = components["schemas"]["Statistics"];
export type Distributions = components["schemas"]["Distributions"];

/** The dataset statistics of the samples matching the filters (the grid's own filter parameters). */
export function useStatistics(datasetId: number, filters: SampleFilters) {
  return useQuery({
    queryKey: ["statistics", datasetId, filters],
    queryFn: ({ signal }) => api.get<Statistics>(`/datasets/${datasetId}/statistics`, { ...filters }, signal),
    placeholderData: keepPreviousData,
  });
}

export function useDistributions(datasetId: number, filters: SampleFilters) {
  return useQuery({
    queryKey: ["distributions", datasetId, filters],
    queryFn: ({ signal }) => api.get<Distributions>(`/datasets/${datasetId}/statistics/distributions`, { ...filters }, signal),
    placeholderData: keepPreviousData,
  });
}
