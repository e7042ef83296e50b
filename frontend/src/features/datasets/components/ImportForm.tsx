import { useState, type FormEvent } from "react";
import { ErrorMessage } from "@/components/feedback";
import type { DatasetFormat } from "@/lib/api/types";
import { useStartImport } from "../api";
import { FileBrowser } from "./FileBrowser";

const FORMATS: { value: DatasetFormat; label: string }[] = [
  { value: "auto", label: "Detect automatically" },
  { value: "coco", label: "COCO (annotations JSON)" },
  { value: "yolo", label: "YOLO (data.yaml or folder)" },
  { value: "folders", label: "Class folders (classification)" },
];

export function ImportForm({ onStarted }: { onStarted: (job: { jobId: string; datasetId: number; name: string }) => void }) {
  const [name, setName] = useState("");
  const [format, setFormat] = useState<DatasetFormat>("auto");
  const [path, setPath] = useState("");
  const [browsing, setBrowsing] = useState(false);
  const start = useStartImport();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const body = { name: name.trim(), format, path: path.trim(), annotations_only: false };
    start.mutate(body, {
      onSuccess: (reply) => {
        onStarted({ jobId: reply.job_id, datasetId: reply.dataset_id, name: body.name });
        setName("");
        setPath("");
      },
    });
  };

  return (
    <form className="import-form" onSubmit={submit} aria-label="Import a dataset">
      <h2>Import a dataset</h2>
      <label className="field">
        <span>Name</span>
        <input name="name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} placeholder="e.g. coco-val2017" />
      </label>
      <label className="field">
        <span>Format</span>
        <select name="format" value={format} onChange={(e) => setFormat(e.target.value as DatasetFormat)}>
          {FORMATS.map((f) => (
            <option key={f.value} value={f.value}>
              {f.label}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Path on the server</span>
        <div className="input-row">
          <input name="path" value={path} onChange={(e) => setPath(e.target.value)} required placeholder="/data/coco/annotations/instances_val2017.json" spellCheck={false} />
          <button type="button" className="btn" onClick={() => setBrowsing(true)}>
            Browse…
          </button>
        </div>
      </label>
      {start.isError && <ErrorMessage error={start.error} title="The server refused the import" />}
      <div className="form-actions">
        <button type="submit" className="btn primary" disabled={start.isPending || !name.trim() || !path.trim()}>
          {start.isPending ? "Starting…" : "Import"}
        </button>
      </div>
      {browsing && (
        <FileBrowser
          onClose={() => setBrowsing(false)}
          onPick={(picked) => {
            setPath(picked);
            setBrowsing(false);
          }}
        />
      )}
    </form>
  );
}
