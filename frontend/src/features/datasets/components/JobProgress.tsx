import { Link } from "react-router-dom";
import { ProgressBar } from "@/components/feedback";
import type { Job } from "@/lib/api/types";
import { useJobEvents } from "../api";

function phase(job: Job | null): string {
  if (!job) return "waiting for the server…";
  if (job.state === "queued") return "queued";
  return job.message ?? job.state;
}

/** Live progress of an import: bar, phase, counts; the server's error verbatim when it fails. */
export function JobProgress({ jobId, datasetId, name, onDismiss }: { jobId: string; datasetId: number; name: string; onDismiss: () => void }) {
  const { job, connectionError } = useJobEvents(jobId);
  const state = job?.state ?? "queued";
  return (
    <section className={`job job-${state}`} data-testid="job" data-state={state}>
      <div className="job-head">
        <strong>Importing “{name}”</strong>
        <span className={`badge state-${state}`}>{state}</span>
      </div>
      {state === "failed" ? (
        <div className="error-box" role="alert">
          <strong>The import failed</strong>
          <pre className="error-text" data-testid="job-error">
            {job?.error ?? "unknown error"}
          </pre>
        </div>
      ) : (
        <>
          <ProgressBar done={job?.done ?? null} total={job?.total ?? null} label="import progress" />
          <div className="job-meta">
            <span data-testid="job-phase">{phase(job)}</span>
            {job?.total ? (
              <span className="num" data-testid="job-count">
                {(job.done ?? 0).toLocaleString()} / {job.total.toLocaleString()}
              </span>
            ) : null}
          </div>
        </>
      )}
      {connectionError && <div className="hint warn">{connectionError}</div>}
      <div className="job-actions">
        {state === "succeeded" && (
          <Link className="btn primary" to={`/datasets/${datasetId}`}>
            Open dataset
          </Link>
        )}
        {(state === "succeeded" || state === "failed" || state === "cancelled") && (
          <button type="button" className="btn ghost" onClick={onDismiss}>
            Dismiss
          </button>
        )}
      </div>
    </section>
  );
}
