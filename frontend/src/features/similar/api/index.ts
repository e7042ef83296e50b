import { useMutation, useQuery } from "@tanstack/react-query";
import { API_BASE, ApiError, api } from "@/lib/api/client";
import type { SimilarHit } from "@/lib/api/types";

export type { SimilarHit };

/** The server refuses bigger uploads (413); checked here first so a huge file is never sent. */
export const MAX_UPLOAD_BYTES = 50 * 1024 * 1024;
export const K = 48;

export function useSimilarToSample(sampleId: number | undefined) {
  return useQuery({
    queryKey: ["similar", sampleId, K],
    queryFn: ({ signal }) => api.get<SimilarHit[]>(`/samples/${sampleId}/similar`, { k: K }, signal),
    enabled: sampleId !== undefined,
    retry: false,
    staleTime: 60_000,
  });
}

/** Query by image: the file's bytes are the request body (no multipart form, nothing spooled to disk). */
export async function searchByImage(datasetId: number, file: File): Promise<SimilarHit[]> {
  if (file.size > MAX_UPLOAD_BYTES) throw new ApiError(413, `${file.name}: larger than ${MAX_UPLOAD_BYTES / (1024 * 1024)} MiB`);
  const type = file.type.startsWith("image/") ? file.type : "application/octet-stream";
  let response: Response;
  try {
    response = await fetch(`${API_BASE}/datasets/${datasetId}/similar?k=${K}&name=${encodeURIComponent(file.name.slice(0, 255) || "the upload")}`, {
      method: "POST",
      headers: { "Content-Type": type, Accept: "application/json" },
      body: file,
    });
  } catch (error) {
    throw new ApiError(0, `cannot reach the DataVisor server (${(error as Error).message})`);
  }
  const body = (await response.json().catch(() => undefined)) as { detail?: unknown } | SimilarHit[] | undefined;
  if (!response.ok) {
    const detail = body && !Array.isArray(body) && typeof body.detail === "string" ? body.detail : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, detail);
  }
  return body as SimilarHit[];
}

export function useSearchByImage(datasetId: number) {
  return useMutation({ mutationFn: (file: File) => searchByImage(datasetId, file) });
}

export function useCreateSelection(datasetId: number) {
  return useMutation({
    mutationFn: (sampleIds: number[]) => api.post<{ id: number; size: number }>(`/datasets/${datasetId}/selections`, { sample_ids: sampleIds }),
  });
}
