import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { Link } from "react-router-dom";
import { datasetQuery } from "@/lib/api/queries";

/** Datasets / <the dataset, a link to its grid> / <title>, then whatever the page adds (counts, status). */
export function DatasetCrumbs({ id, title, children }: { id: number; title: string; children?: ReactNode }) {
  const dataset = useQuery(datasetQuery(id));
  return (
    <div className="crumbs">
      <Link to="/">Datasets</Link>
      <span aria-hidden>/</span>
      <Link to={`/datasets/${id}`} data-testid="dataset-name">
        {dataset.data?.name ?? "…"}
      </Link>
      <span aria-hidden>/</span>
      <strong>{title}</strong>
      {children}
    </div>
  );
}
