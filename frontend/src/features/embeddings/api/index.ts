import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { API_BASE, ApiError, api, eventsUrl } from "@/lib/api/client";
import { embeddingsQuery, predictionsQuery } from "@/lib/api/queries";
import type { components } from "@/lib/api/schema";

type Schemas = components["schemas"];
export type MapColors = Schemas["MapColors"];
export type Job = Schemas["Job"];
export type ColorBy = "category" | "split" | "tag" | "uniqueness" | "errors";
export type Method = "pca" | "tsne";

/** The map's points: typed arrays straight from the binary reply (16 bytes a point). */
export interface Projection {
  ids: Float64Array; // sample ids fit a double exactly (< 2^53)
  x: Float32Array;
  y: Float32Array;
  model: string;
  method: string;
  bytes: number;
}

async function fetchProjection(datasetId: number, method: Method, signal?: AbortSignal): Promise<Projection> {
  const response = await fetch(`${API_BASE}/datasets/${datasetId}/projection?method=${method}&format=binary`, { signal });
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try {
      detail = ((await response.json()) as { detail?: string }).detail ?? detail;
    } catch {
      /* not JSON: keep the status line */
    }
    throw new ApiError(response.status, detail);
  }
  const buffer = await response.arrayBuffer();
  const n = Number(response.headers.get("X-Points") ?? buffer.byteLength / 16);
  const raw = new BigInt64Array(buffer, 0, n);
  const ids = new Float64Array(n);
  for (let i = 0; i < n; i++) ids[i] = Number(raw[i]);
  return {
    ids,
    x: new Float32Array(buffer, 8 * n, n),
    y: new Float32Array(buffer, 12 * n, n),
    model: response.headers.get("X-Model") ?? "",
    method: response.headers.get("X-Method") ?? method,
    bytes: buffer.byteLength,
  };
}

export function useEmbeddingStatus(datasetId: number) {
  return useQuery({ ...embeddingsQuery(datasetId), staleTime: 0 });
}

export function usePredictionRuns(datasetId: number) {
  return useQuery(predictionsQuery(datasetId));
}

export function useProjection(datasetId: number, method: Method, enabled: boolean) {
  return useQuery({
    queryKey: ["projection", datasetId, method],
    queryFn: ({ signal }) => fetchProjection(datasetId, method, signal),
    enabled,
    retry: false,
    staleTime: Infinity, // replaced on purpose when a job ends (invalidated below)
  });
}

export function useMapColors(datasetId: number, by: ColorBy, run: string | undefined, enabled: boolean) {
  return useQuery({
    queryKey: ["map-colors", datasetId, by, run],
    queryFn: ({ signal }) => api.get<MapColors>(`/datasets/${datasetId}/projection/colors`, { by, run }, signal),
    enabled: enabled && (by !== "errors" || !!run),
    retry: false,
  });
}

export function useStartJob(datasetId: number) {
  return useMutation({
    mutationFn: (what: "embeddings" | "tsne") =>
      what === "embeddings"
        ? api.post<{ job_id: string }>(`/datasets/${datasetId}/embeddings`, undefined)
        : api.post<{ job_id: string }>(`/datasets/${datasetId}/projection`, undefined, { method: "tsne" }),
  });
}

export function useCancelJobs(datasetId: number) {
  return useMutation({ mutationFn: () => api.delete<{ cancelled: string[] }>(`/datasets/${datasetId}/embeddings`) });
}

export function useCreateSelection(datasetId: number) {
  return useMutation({
    mutationFn: (sampleIds: number[]) => api.post<{ id: number; size: number }>(`/datasets/${datasetId}/selections`, { sample_ids: sampleIds }),
  });
}

/** A job's state from its event stream; when it ends, the map's data is refetched. */
export function useJob(datasetId: number, jobId: string | null): Job | null {
  const [job, setJob] = useState<Job | null>(null);
  const client = useQueryClient();
  useEffect(() => {
    setJob(null);
    if (!jobId) return;
    const source = new EventSource(eventsUrl(jobId));
    const onData = (event: MessageEvent<string>) => setJob(JSON.parse(event.data) as Job);
    source.addEventListener("progress", onData as EventListener);
    source.addEventListener("end", ((event: MessageEvent<string>) => {
      onData(event);
      source.close();
      for (const key of ["embeddings", "projection", "map-colors"]) void client.invalidateQueries({ queryKey: [key, datasetId] });
    }) as EventListener);
    return () => source.close();
  }, [jobId, datasetId, client]);
  return job;
}
