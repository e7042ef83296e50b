import { Link, NavLink, Route, Routes } from "react-router-dom";
import { EmptyState } from "@/components/feedback";
import { KeyboardHelp } from "@/components/KeyboardHelp";
import { DatasetsPage } from "@/features/datasets";
import { API_BASE } from "@/lib/api/client";
import { DatasetRoute } from "./DatasetRoute";
import { Providers } from "./providers";

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
            <Route path="*" element={<NotFound />} />
          </Routes>
        </main>
        <KeyboardHelp />
      </div>
    </Providers>
  );
}
