import { useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useState } from "react";
import { api } from "@/lib/api/client";
import { PAGE_SIZE, predictionsQuery, samplesPageQuery } from "@/lib/api/queries";
import type { SamplesPage, TagEditResult } from "@/lib/api/types";
import { samplesQuery, toFilters, type ViewState } from "@/lib/url-state";

export { PAGE_SIZE };

/** The grid pages covering the visible rows; pages that leave the view are cancelled mid-flight. */
export function useGridPages(datasetId: number, view: ViewState, pages: number[]) {
  return useQueries({
    queries: pages.map((page) => samplesPageQuery(datasetId, view, page)),
  });
}

export function usePredictionRuns(datasetId: number) {
  return useQuery(predictionsQuery(datasetId));
}

// the tags endpoint takes at most 10,000 ids a call; smaller chunks keep each write short
export const TAG_CHUNK = 5000;
const ID_PAGE = 500; // the samples endpoint's largest page

export interface TagProgress {
  phase: "collecting" | "tagging";
  done: number;
  total: number;
}

/** Add/remove tags on a selection (explicit ids, or everything matching the filter), in chunks. */
export function useTagSelection(datasetId: number) {
  const client = useQueryClient();
  const [progress, setProgress] = useState<TagProgress | null>(null);
  const [error, setError] = useState<unknown>(null);

  const collectIds = useCallback(
    async (view: ViewState, total: number): Promise<number[]> => {
      const ids: number[] = [];
      for (let offset = 0; offset < total; offset += ID_PAGE) {
        setProgress({ phase: "collecting", done: offset, total });
        const page = await api.get<SamplesPage>(`/datasets/${datasetId}/samples`, { ...samplesQuery(view), offset, limit: ID_PAGE });
        ids.push(...page.items.map((i) => i.id));
        if (page.items.length < ID_PAGE) break;
      }
      return ids;
    },
    [datasetId],
  );

  const run = useCallback(
    async (target: { ids: number[] } | { view: ViewState; total: number }, add: string[], remove: string[]) => {
      setError(null);
      try {
        const ids = "ids" in target ? target.ids : await collectIds(target.view, target.total);
        let affected = 0;
        for (let i = 0; i < ids.length; i += TAG_CHUNK) {
          setProgress({ phase: "tagging", done: i, total: ids.length });
          const reply = await api.post<TagEditResult>(`/datasets/${datasetId}/tags`, { sample_ids: ids.slice(i, i + TAG_CHUNK), add, remove });
          affected += reply.affected;
        }
        setProgress({ phase: "tagging", done: ids.length, total: ids.length });
        return affected;
      } catch (e) {
        setError(e);
        throw e;
      } finally {
        await Promise.all([
          client.invalidateQueries({ queryKey: ["samples", datasetId] }),
          client.invalidateQueries({ queryKey: ["facets", datasetId] }),
          client.invalidateQueries({ queryKey: ["sample"] }),
        ]);
        setProgress(null);
      }
    },
    [client, collectIds, datasetId],
  );
  return { run, progress, error };
}

export { toFilters };
