import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { ErrorMessage, ProgressBar } from "@/components/feedback";
import type { ViewState } from "@/lib/url-state";
import { useTagSelection } from "../api";
import type { Selection } from "../hooks/useSelection";

interface Props {
  datasetId: number;
  view: ViewState;
  total: number;
  selection: Selection;
  onSelectAll: () => void;
  onClear: () => void;
}

export function SelectionBar({ datasetId, view, total, selection, onSelectAll, onClear }: Props) {
  const [tag, setTag] = useState("");
  const [result, setResult] = useState<string | null>(null);
  const { run, progress, error } = useTagSelection(datasetId);
  const count = selection.all ? total : selection.ids.size;
  const busy = progress !== null;

  const apply = async (mode: "add" | "remove") => {
    const name = tag.trim();
    if (!name) return;
    setResult(null);
    const target = selection.all ? { view, total } : { ids: [...selection.ids] };
    try {
      const affected = await run(target, mode === "add" ? [name] : [], mode === "remove" ? [name] : []);
      setResult(`${mode === "add" ? "tagged" : "untagged"} ${affected.toLocaleString()} sample${affected === 1 ? "" : "s"} “${name}”`);
    } catch {
      // shown below from `error`
    }
  };

  return (
    <form className="selection-bar" data-testid="selection-bar" onSubmit={(e: FormEvent) => (e.preventDefault(), void apply("add"))}>
      <strong className="num" data-testid="selected-count">
        {count.toLocaleString()} selected
      </strong>
      {!selection.all && count < total && (
        <button type="button" className="btn small ghost" onClick={onSelectAll}>
          Select all {total.toLocaleString()} matching
        </button>
      )}
      <input className="tag-input" value={tag} onChange={(e) => setTag(e.target.value)} placeholder="tag" aria-label="tag name" maxLength={200} disabled={busy} />
      <button type="submit" className="btn small primary" disabled={busy || !tag.trim()}>
        Add tag
      </button>
      <button type="button" className="btn small" disabled={busy || !tag.trim()} onClick={() => void apply("remove")}>
        Remove tag
      </button>
      {!selection.all && count === 1 && (
        <Link className="btn small ghost" to={`/datasets/${datasetId}/similar?sample=${[...selection.ids][0]}`} data-testid="grid-find-similar">
          Find similar
        </Link>
      )}
      <button type="button" className="btn small ghost" onClick={onClear} disabled={busy}>
        Clear selection
      </button>
      {progress && (
        <div className="selection-progress">
          <ProgressBar done={progress.done} total={progress.total} label="tagging progress" />
          <span className="small muted num">
            {progress.phase === "collecting" ? "collecting ids" : "tagging"} {progress.done.toLocaleString()} / {progress.total.toLocaleString()}
          </span>
        </div>
      )}
      {result && !busy && <span className="small ok" data-testid="tag-result">{result}</span>}
      {error !== null && <ErrorMessage error={error} title="Tagging failed" />}
    </form>
  );
}
