import { useState } from "react";
import { Link } from "react-router-dom";
import { EmptyState, ErrorMessage, Spinner } from "@/components/feedback";
import { Modal } from "@/components/Modal";
import type { DatasetSummary as Dataset } from "@/lib/api/types";
import { useDatasetDetail, useDatasets, useDeleteDataset } from "../api";
import { ImportForm } from "./ImportForm";
import { JobProgress } from "./JobProgress";

interface RunningImport {
  jobId: string;
  datasetId: number;
  name: string;
}

function Splits({ dataset }: { dataset: Dataset }) {
  const detail = useDatasetDetail(dataset.id);
  const splits = detail.data?.counts.splits;
  if (dataset.status !== "ready") return <span className="muted">—</span>;
  if (detail.isPending) return <span className="muted">…</span>;
  if (!splits) return <span className="muted">—</span>;
  return (
    <span className="splits">
      {Object.entries(splits).map(([split, c]) => (
        <span key={split} className="split-chip" title={`${c.samples} samples, ${c.annotations} boxes`}>
          {split === "none" ? "no split" : split} <b className="num">{c.samples.toLocaleString()}</b>
          <span className="muted num"> / {c.annotations.toLocaleString()}</span>
        </span>
      ))}
    </span>
  );
}

export function DatasetsPage() {
  const datasets = useDatasets();
  const remove = useDeleteDataset();
  const [running, setRunning] = useState<RunningImport[]>([]);
  const [confirm, setConfirm] = useState<Dataset | null>(null);

  return (
    <div className="page datasets-page">
      <div className="datasets-main">
        <header className="page-head">
          <h1>Datasets</h1>
          {datasets.data && <span className="muted">{datasets.data.length} in this server</span>}
        </header>
        {datasets.isPending && <Spinner label="Loading datasets…" />}
        {datasets.isError && <ErrorMessage error={datasets.error} title="Cannot load the datasets" onRetry={() => datasets.refetch()} />}
        {datasets.data && datasets.data.length === 0 && (
          <EmptyState title="No datasets yet">
            <p>
              Import one with the form on the right: give it a name and pick a COCO annotations file, a YOLO <code>data.yaml</code> or
              a folder of class folders on the server.
            </p>
          </EmptyState>
        )}
        {datasets.data && datasets.data.length > 0 && (
          <table className="table datasets" data-testid="datasets">
            <thead>
              <tr>
                <th>Name</th>
                <th>Format</th>
                <th>Status</th>
                <th className="num">Samples</th>
                <th className="num">Boxes</th>
                <th>Per split (samples / boxes)</th>
                <th aria-label="actions" />
              </tr>
            </thead>
            <tbody>
              {datasets.data.map((d) => (
                <tr key={d.id} data-dataset-id={d.id}>
                  <td>
                    {d.status === "ready" ? (
                      <Link className="dataset-link" to={`/datasets/${d.id}`}>
                        {d.name}
                      </Link>
                    ) : (
                      <span>{d.name}</span>
                    )}
                    <div className="muted small path" title={d.path}>
                      {d.path}
                    </div>
                  </td>
                  <td>{d.format}</td>
                  <td>
                    <span className={`badge status-${d.status}`}>{d.status}</span>
                  </td>
                  <td className="num">{d.counts.samples.toLocaleString()}</td>
                  <td className="num">{d.counts.annotations.toLocaleString()}</td>
                  <td>
                    <Splits dataset={d} />
                  </td>
                  <td className="actions">
                    <button type="button" className="btn ghost small danger" onClick={() => setConfirm(d)}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      <aside className="datasets-side">
        <ImportForm onStarted={(job) => setRunning((list) => [job, ...list])} />
        {running.map((job) => (
          <JobProgress key={job.jobId} {...job} onDismiss={() => setRunning((list) => list.filter((j) => j.jobId !== job.jobId))} />
        ))}
      </aside>
      {confirm && (
        <Modal title={`Delete “${confirm.name}”?`} onClose={() => (remove.reset(), setConfirm(null))}>
          <p>
            This removes the dataset's {confirm.counts.samples.toLocaleString()} samples, their boxes, tags, predictions and saved views from
            DataVisor. The image files on disk are not touched.
          </p>
          {remove.isError && <ErrorMessage error={remove.error} title="Delete failed" />}
          <div className="form-actions">
            <button type="button" className="btn ghost" onClick={() => (remove.reset(), setConfirm(null))}>
              Cancel
            </button>
            <button
              type="button"
              className="btn danger"
              disabled={remove.isPending}
              onClick={() => remove.mutate(confirm.id, { onSuccess: () => setConfirm(null) })}
            >
              {remove.isPending ? "Deleting…" : "Delete dataset"}
            </button>
          </div>
        </Modal>
      )}
    </div>
  );
}
