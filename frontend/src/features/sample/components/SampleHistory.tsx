import { ErrorMessage } from "@/components/feedback";
import { useSampleHistory, type HistoryEntry } from "../api/edits";

function describe(entry: HistoryEntry): string {
  const before = entry.before as Record<string, unknown> | null;
  const after = entry.after as Record<string, unknown> | null;
  const what = `${entry.action} ${entry.target} ${entry.target_id}`;
  if (entry.action === "triage") return `${what}: ${String(before?.verdict ?? "—")} → ${String(after?.verdict ?? "—")}`;
  if (entry.action === "review") return `${what}: ${String(before?.review_status ?? "—")} → ${String(after?.review_status ?? "—")}`;
  const bbox = (v: Record<string, unknown> | null) => (Array.isArray(v?.bbox) ? (v.bbox as number[]).map((n) => Math.round(n)).join(",") : null);
  const parts = [bbox(before), bbox(after)];
  return parts.some(Boolean) ? `${what}: ${parts[0] ?? "—"} → ${parts[1] ?? "—"}` : what;
}

/** The sample's edits, newest first, a page at a time; undone ones are struck through. */
export function SampleHistory({ sampleId }: { sampleId: number | undefined }) {
  const history = useSampleHistory(sampleId);
  const pages = history.data?.pages ?? [];
  const entries = pages.flatMap((p) => p.items);
  const total = pages[0]?.total ?? 0;
  return (
    <section className="side-section">
      <header>
        <h3>History</h3>
        <span className="muted small num">{total}</span>
      </header>
      {history.isError && <ErrorMessage error={history.error} />}
      <ol className="history" data-testid="sample-history">
        {entries.map((entry) => (
          <li key={entry.id} className={entry.state === "undone" ? "undone" : undefined} data-action={entry.action} data-state={entry.state}>
            <span className="small">{describe(entry)}</span>
            <span className="muted small">
              {entry.user} · {new Date(entry.at).toLocaleString()}
            </span>
          </li>
        ))}
        {history.data && entries.length === 0 && <li className="muted small">no edits yet</li>}
      </ol>
      {history.hasNextPage && (
        <button type="button" className="link small" data-testid="history-older" disabled={history.isFetchingNextPage} onClick={() => void history.fetchNextPage()}>
          {history.isFetchingNextPage ? "loading…" : `older edits (${total - entries.length} more)`}
        </button>
      )}
    </section>
  );
}
