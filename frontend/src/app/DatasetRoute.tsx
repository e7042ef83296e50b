import { Link, useLocation, useParams } from "react-router-dom";
import { Spinner } from "@/components/feedback";
import { useDatasetDetail } from "@/features/datasets";
import { Sidebar } from "@/features/filters";
import { Grid } from "@/features/grid";
import { SampleView } from "@/features/sample";
import { useViewState } from "@/hooks/useViewState";

/** /datasets/:id — the sidebar, the grid and (when a sample is open) the sample view, sharing the URL's view state. */
export function DatasetRoute() {
  const id = Number(useParams().id);
  const [view, setView] = useViewState();
  const { search } = useLocation();
  const dataset = useDatasetDetail(id);
  // a missing dataset or a bad id is DatasetGate's (App.tsx): here the id is a dataset's
  // the grid and the sidebar start their requests at once: the first page does not wait for these counts
  const d = dataset.data;
  return (
    <div className="dataset-layout">
      <div className="crumbs">
        <Link to="/">Datasets</Link>
        <span aria-hidden>/</span>
        {d ? (
          <>
            <strong data-testid="dataset-name">{d.name}</strong>
            <span className="muted small num">
              {d.counts.samples.toLocaleString()} samples · {d.counts.annotations.toLocaleString()} boxes · {d.counts.categories ?? 0} categories
            </span>
            {d.status !== "ready" && <span className={`badge status-${d.status}`}>{d.status}</span>}
          </>
        ) : (
          <Spinner label="Loading the dataset…" />
        )}
        <nav className="view-tabs">
          <Link to={`/datasets/${id}/stats${search}`} className="nav-link" data-testid="nav-stats">
            Statistics
          </Link>
          <Link to={`/datasets/${id}/evaluation${search}`} className="nav-link" data-testid="nav-evaluation">
            Evaluation
          </Link>
          <Link to={`/datasets/${id}/map`} className="nav-link" data-testid="nav-map">
            Embeddings map
          </Link>
          <Link to={`/datasets/${id}/duplicates`} className="nav-link" data-testid="nav-duplicates">
            Near-duplicates
          </Link>
          <Link to={`/datasets/${id}/similar`} className="nav-link" data-testid="nav-similar">
            Find similar
          </Link>
        </nav>
      </div>
      <Sidebar datasetId={id} view={view} setView={setView} besideGrid />
      <Grid datasetId={id} view={view} setView={setView} />
      {(view.open !== undefined || view.sid !== undefined) && <SampleView datasetId={id} view={view} setView={setView} />}
    </div>
  );
}
