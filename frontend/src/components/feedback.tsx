import type { ReactNode } from "react";
import { ApiError } from "@/lib/api/client";

export function Spinner({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="spinner" role="status">
      <span className="spinner-dot" aria-hidden />
      <span>{label}</span>
    </div>
  );
}

/** An error with the server's message verbatim (ApiError.detail), and a retry when one makes sense. */
export function ErrorMessage({ error, title, onRetry }: { error: unknown; title?: string; onRetry?: () => void }) {
  const message = error instanceof ApiError ? error.detail : error instanceof Error ? error.message : String(error);
  return (
    <div className="error-box" role="alert">
      {title && <strong>{title}</strong>}
      <pre className="error-text">{message}</pre>
      {onRetry && (
        <button type="button" className="btn small" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <h3>{title}</h3>
      {children && <div className="empty-body">{children}</div>}
    </div>
  );
}

export function ProgressBar({ done, total, label }: { done: number | null; total: number | null; label?: string }) {
  const fraction = total && total > 0 && done !== null ? Math.min(1, done / total) : null;
  return (
    <div className="progress" role="progressbar" aria-valuemin={0} aria-valuemax={total ?? undefined} aria-valuenow={done ?? undefined} aria-label={label}>
      <progress className={fraction === null ? "indeterminate" : undefined} max={1} value={fraction ?? undefined} />
    </div>
  );
}
