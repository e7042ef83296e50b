import { api } from "@/lib/api/client";
import type { SamplesPage } from "@/lib/api/types";
import { samplesQuery, type ViewState } from "@/lib/url-state";

const CHUNK = 500; // the samples query's largest page
const MAX_CHUNKS = 100;

/**
 * The first unreviewed sample of the current list (filters and order) other than `currentId`, as the
 * list position the sample view opens (so ← / → keep working from there), or by id when it lies beyond the
 * part of the list this looks through. null when every sample of the list is reviewed.
 */
export async function nextUnreviewed(datasetId: number, view: ViewState, currentId: number | undefined): Promise<{ open?: number; sid?: number } | null> {
  const query = samplesQuery(view);
  const candidates = await api.get<SamplesPage>(`/datasets/${datasetId}/samples`, { ...query, review_status: "unreviewed", limit: 2 });
  const target = candidates.items.find((item) => item.id !== currentId);
  if (!target) return null;
  for (let chunk = 0; chunk < MAX_CHUNKS; chunk++) {
    const page = await api.get<SamplesPage>(`/datasets/${datasetId}/samples`, { ...query, offset: chunk * CHUNK, limit: CHUNK });
    const at = page.items.findIndex((item) => item.id === target.id);
    if (at >= 0) return { open: chunk * CHUNK + at };
    if ((chunk + 1) * CHUNK >= page.total) break;
  }
  return { sid: target.id };
}
