import { lazy, Suspense, type ReactNode } from "react";
import { Link, NavLink, Route, Routes, useParams } from "react-router-dom";
import { EmptyState, ErrorMessage, Spinner } from "@/components/feedback";
import { KeyboardHelp } from "@/components/KeyboardHelp";
import { DatasetsPage, useDatasetDetail } from "@/features/datasets";
import { API_BASE } from "@/lib/api/client";
import { AnalysisLayout } from "./AnalysisLayout";
import { DatasetRoute } from "./DatasetRoute";
import { Providers } from "./providers";

// analysis views: their own chunks, fetched on first visit (the grid's initial bundle does not grow)
const StatsPage = lazy(() => import("@/features/stats/components/StatsPage"));
const EvaluationPage = lazy(() => import("@/features/evaluation/components/EvaluationPage"));

function Lazy({ children }: { children: React.ReactNode }) {
  return <Suspense fallback={<Spinner label="Loading the view…" />}>{children}</Suspense>;
}
const MapPage = lazy(() => import("@/features/embeddings").then((m) => ({ default: m.MapPage })));
const DuplicatesPage = lazy(() => import("@/features/duplicates/components/DuplicatesPage").then((m) => ({ default: m.DuplicatesPage })));
const SimilarPage = lazy(() => import("@/features/similar/components/SimilarPage").then((m) => ({ default: m.SimilarPage })));

/**
 * The map, near-duplicates and find-similar pages of a dataset that is not there (deleted, a stale link, a
 * mistyped id): one clear message instead of the page's controls over its requests' 404s. The page starts at
 * once (its requests do not wait for the dataset's); a missing dataset replaces it when the answer comes.
 */
function DatasetGate({ children }: { children: ReactNode }) {
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

function NotFound() {
  return (
    <EmptyState title="Nothing here">
      <p>
        This address is not a page of DataVisor. <Link to="/">Go to the datasets</Link>.
      </p>
    </EmptyState>
  );
}

export function App() {
  return (
    <Providers>
      <div className="shell">
        <nav className="topbar">
          <Link to="/" className="brand">
            <img src="/favicon.svg" alt="" width={20} height={20} />
            DataVisor
          </Link>
          <NavLink to="/" end className="nav-link">
            Datasets
          </NavLink>
          <div className="topbar-spacer" />
          <a className="nav-link" href={`${API_BASE}/docs`} target="_blank" rel="noreferrer">
            API
          </a>
          <span className="muted small" title="keyboard shortcuts">
            press <kbd>?</kbd> for keys
          </span>
        </nav>
        <main className="content">
          <Routes>
            <Route path="/" element={<DatasetsPage />} />
            <Route path="/datasets/:id" element={<DatasetRoute />} />
            <Route
              path="/datasets/:id/stats"
              element={<AnalysisLayout title="Statistics">{({ id, view }) => <Lazy><StatsPage id={id} view={view} /></Lazy>}</AnalysisLayout>}
            />
            <Route
              path="/datasets/:id/evaluation"
              element={<AnalysisLayout title="Evaluation">{(page) => <Lazy><EvaluationPage {...page} /></Lazy>}</AnalysisLayout>}
            />
            <Route path="/datasets/:id/map" element={<DatasetGate><Lazy><MapPage /></Lazy></DatasetGate>} />
            <Route path="/datasets/:id/duplicates" element={<DatasetGate><Lazy><DuplicatesPage /></Lazy></DatasetGate>} />
            <Route path="/datasets/:id/similar" element={<DatasetGate><Lazy><SimilarPage /></Lazy></DatasetGate>} />
            <Route path="*" element={<NotFound />} />
          </Routes>
        </main>
        <KeyboardHelp />
      </div>
    </Providers>
  );
}
