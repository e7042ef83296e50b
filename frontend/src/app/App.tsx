import { lazy, Suspense } from "react";
import { Link, NavLink, Route, Routes } from "react-router-dom";
import { EmptyState, Spinner } from "@/components/feedback";
import { KeyboardHelp } from "@/components/KeyboardHelp";
import { DatasetsPage } from "@/features/datasets";
import { API_BASE } from "@/lib/api/client";
import { AnalysisLayout } from "./AnalysisLayout";
import { DatasetGate } from "./DatasetGate";
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
            <Route path="/datasets/:id" element={<DatasetGate><DatasetRoute /></DatasetGate>} />
            <Route
              path="/datasets/:id/stats"
              element={<DatasetGate><AnalysisLayout title="Statistics">{({ id, view }) => <Lazy><StatsPage id={id} view={view} /></Lazy>}</AnalysisLayout></DatasetGate>}
            />
            <Route
              path="/datasets/:id/evaluation"
              element={<DatasetGate><AnalysisLayout title="Evaluation">{(page) => <Lazy><EvaluationPage {...page} /></Lazy>}</AnalysisLayout></DatasetGate>}
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
