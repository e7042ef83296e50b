import type { ReactNode } from "react";
import { Link, NavLink, useLocation, useParams } from "react-router-dom";
import { useDatasetDetail } from "@/features/datasets";
import { Sidebar } from "@/features/filters";
import { useViewState } from "@/hooks/useViewState";
import type { ViewState } from "@/lib/url-state";
import "./analysis.css";

export type SetView = (change: Partial<ViewState>, options?: { replace?: boolean }) => void;

/**
 * An analysis page of a dataset: the crumbs with the dataset's views, the filter sidebar, the page (the app
 * composes them here: the views are features, and features do not import each other).
 */
export function AnalysisLayout({ title, children }: { title: string; children: (args: { id: number; view: ViewState; setView: SetView }) => ReactNode }) {
  const id = Number(useParams().id);
  const { search } = useLocation();
  const [view, setView] = useViewState();
  const dataset = useDatasetDetail(id);
  // a missing dataset or a bad id is DatasetGate's (App.tsx)
  // the page's own requests start at once, not after the dataset's (its name fills in when it arrives)
  return (
    <div className="dataset-layout">
      <div className="crumbs">
        <Link to="/">Datasets</Link>
        <span aria-hidden>/</span>
        <strong data-testid="dataset-name">{dataset.data?.name ?? "…"}</strong>
        <span aria-hidden>/</span>
        <span>{title}</span>
        <nav className="view-tabs">
          <NavLink to={`/datasets/${id}${search}`} end className="nav-link">
            Grid
          </NavLink>
          <NavLink to={`/datasets/${id}/stats${search}`} className="nav-link">
            Statistics
          </NavLink>
          <NavLink to={`/datasets/${id}/evaluation${search}`} className="nav-link">
            Evaluation
          </NavLink>
        </nav>
      </div>
      <Sidebar datasetId={id} view={view} setView={setView} besideGrid={false} />
      <section className="analysis">{children({ id, view, setView })}</section>
    </div>
  );
}
