import type { ReactNode } from "react";
import { Link, useParams } from "react-router-dom";
import { ErrorMessage } from "@/components/feedback";
import { useDatasetDetail } from "@/features/datasets";

/**
 * Every page of a dataset (the grid, the analysis views, the map, near-duplicates, find similar) when the
 * dataset is not there (deleted, a stale link, a mistyped id): one clear message instead of the page's
 * controls over its requests' 404s. The page starts at once (its requests do not wait for the dataset's);
 * a missing dataset replaces it when the answer comes.
 */
export function DatasetGate({ children }: { children: ReactNode }) {
  const param = useParams().id;
  const id = Number(param);
  const dataset = useDatasetDetail(id);
  if (!Number.isSafeInteger(id) || id < 1) return <ErrorMessage error={`“${param}” is not a dataset id`} />;
  if (dataset.isError)
    return (
      <div className="page">
        <ErrorMessage error={dataset.error} title="Cannot open this dataset" onRetry={() => dataset.refetch()} />
        <Link to="/">← All datasets</Link>
      </div>
    );
  return children;
}
