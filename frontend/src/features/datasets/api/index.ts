import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api, eventsUrl } from "@/lib/api/client";
import { datasetQuery } from "@/lib/api/queries";
import type { CreateDataset, DatasetSummary, FileListing, ImportStarted, Job } from "@/lib/api/types";

export function useDatasets() {
  return useQuery({
    queryKey: ["datasets"],
    queryFn: ({ signal }) => api.get<DatasetSummary[]>("/datasets", undefined, signal),
    // while an import runs its row shows "importing"; poll until none does
    refetchInterval: (query) => (query.state.data?.some((d) => d.status !== "ready") ? 2000 : false),
  });
}

export function useDatasetDetail(id: number) {
  // a route's id that is not one ("/datasets/abc") is answered by the page, not asked of the server
  return useQuery({ ...datasetQuery(id), enabled: Number.isSafeInteger(id) && id >= 1 });
}

export function useDeleteDataset() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => api.delete(`/datasets/${id}`),
    onSuccess: (_, id) => {
      client.removeQueries({ queryKey: ["dataset", id] });
      return client.invalidateQueries({ queryKey: ["datasets"] });
    },
  });
}

export function useStartImport() {
  return useMutation({ mutationFn: (body: CreateDataset) => api.post<ImportStarted>("/datasets", body) });
}

export function useFiles(path: string | null) {
  return useQuery({
    queryKey: ["files", path],
    queryFn: ({ signal }) => api.get<FileListing>("/files", { path }, signal),
    retry: false,
  });
}

/** The job's state, live from its server-sent events (`progress` ... `end`). */
export function useJobEvents(jobId: string | null): { job: Job | null; connectionError: string | null } {
  const [job, setJob] = useState<Job | null>(null);
  const [connectionError, setConnectionError] = useState<string | null>(null);
  const client = useQueryClient();
  useEffect(() => {
    setJob(null);
    setConnectionError(null);
    if (!jobId) return;
    const source = new EventSource(eventsUrl(jobId));
    let ended = false;
    const onData = (event: MessageEvent<string>) => setJob(JSON.parse(event.data) as Job);
    source.addEventListener("progress", onData as EventListener);
    source.addEventListener("end", ((event: MessageEvent<string>) => {
      ended = true;
      onData(event);
      source.close();
      void client.invalidateQueries({ queryKey: ["datasets"] });
    }) as EventListener);
    source.onerror = () => {
      // EventSource reconnects by itself; say so instead of hanging silently
      if (!ended) setConnectionError("lost the connection to the server; retrying…");
    };
    source.onopen = () => setConnectionError(null);
    return () => source.close();
  }, [jobId, client]);
  return { job, connectionError };
}
