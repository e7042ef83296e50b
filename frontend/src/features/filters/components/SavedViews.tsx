import { useState, type FormEvent } from "react";
import { ErrorMessage } from "@/components/feedback";
import { fromFilters, serializeViewState, toFilters, type ViewState } from "@/lib/url-state";
import { useDeleteView, useSaveView, useSavedViews } from "../api";

interface Props {
  datasetId: number;
  view: ViewState;
  setView: (change: Partial<ViewState>) => void;
  /** false while the grid's first page loads (the list is not needed for it) */
  enabled: boolean;
}

export function SavedViews({ datasetId, view, setView, enabled }: Props) {
  const views = useSavedViews(datasetId, enabled);
  const save = useSaveView(datasetId);
  const remove = useDeleteView(datasetId);
  const [name, setName] = useState("");
  const current = JSON.stringify(toFilters(view));

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!name.trim()) return;
    save.mutate({ name: name.trim(), filters: toFilters(view) }, { onSuccess: () => setName("") });
  };

  return (
    <section className="side-section">
      <header>
        <h3>Saved views</h3>
      </header>
      <ul className="facet-list" data-testid="saved-views">
        {(views.data ?? []).map((v) => {
          const active = JSON.stringify(toFilters(fromFilters(view, v.filters))) === current;
          return (
            <li key={v.id} className="saved-view">
              <button
                type="button"
                className={active ? "facet active" : "facet"}
                title={serializeViewState(fromFilters(view, v.filters)) || "no filters"}
                onClick={() => {
                  const next = fromFilters(view, v.filters);
                  setView({ ...next });
                }}
              >
                <span className="facet-name">{v.name}</span>
              </button>
              <button type="button" className="btn ghost icon small" aria-label={`delete view ${v.name}`} onClick={() => remove.mutate(v.id)}>
                ✕
              </button>
            </li>
          );
        })}
        {views.data && views.data.length === 0 && <li className="muted small">Save the current filters under a name.</li>}
      </ul>
      <form className="input-row" onSubmit={submit}>
        <input value={name} onChange={(e) => setName(e.target.value)} placeholder="view name" maxLength={200} aria-label="view name" />
        <button type="submit" className="btn small" disabled={!name.trim() || save.isPending}>
          Save
        </button>
      </form>
      {save.isError && <ErrorMessage error={save.error} />}
      {remove.isError && <ErrorMessage error={remove.error} />}
      {views.isError && <ErrorMessage error={views.error} />}
    </section>
  );
}
