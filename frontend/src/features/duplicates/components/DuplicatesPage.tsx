import { useEffect, useMemo, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { DatasetCrumbs } from "@/components/DatasetCrumbs";
import { EmptyState, ErrorMessage, Spinner } from "@/components/feedback";
import { API_BASE, ApiError, imageUrl, queryString } from "@/lib/api/client";
import { DEFAULT_VIEW, serializeViewState } from "@/lib/url-state";
import { useDuplicates, useEmbedded, useSaveView, useTagDuplicates, type DuplicateGroup } from "../api";
import "../duplicates.css";

export const DUPLICATE_TAG = "duplicate";
const PAGE = 50;

function Group({ group, kept, onKeep }: { group: DuplicateGroup; kept: number; onKeep: (sampleId: number) => void }) {
  return (
    <li className="dup-group" data-testid="dup-group" data-kept={kept} data-size={group.size}>
      <header className="small muted num">
        {group.size} images · similarity ≥ {group.score.toFixed(3)}
      </header>
      <div className="dup-members">
        {group.members.map((m) => {
          const isKept = m.sample_id === kept;
          return (
            <figure key={m.sample_id} className={`dup-member${isKept ? " kept" : ""}`} data-sample-id={m.sample_id} data-tagged={m.tagged ? "1" : "0"}>
              <img src={imageUrl(m.sample_id, "small")} alt={m.file_name} loading="lazy" />
              <figcaption className="small">
                <span className="dup-name" title={m.file_name}>
                  {m.file_name}
                </span>
                <span className="num muted">
                  {m.width && m.height ? `${m.width}×${m.height}` : "size unknown"} · {m.score.toFixed(3)}
                </span>
                {isKept ? (
                  <span className="badge small ok">kept</span>
                ) : (
                  <button type="button" className="btn ghost small" data-testid="dup-keep" onClick={() => onKeep(m.sample_id)}>
                    keep this one
                  </button>
                )}
                {m.tagged && <span className="badge small">{DUPLICATE_TAG}</span>}
              </figcaption>
            </figure>
          );
        })}
      </div>
    </li>
  );
}

/** /datasets/:id/duplicates — near-duplicate groups, a threshold, and "keep one per group, tag the rest". */
export function DuplicatesPage() {
  const id = Number(useParams().id);
  const status = useEmbedded(id);
  const embedded = (status.data?.models ?? []).some((m) => m.model === status.data?.model && m.vectors > 0);
  const [slider, setSlider] = useState(0.95);
  const [threshold, setThreshold] = useState(0.95);
  const [limit, setLimit] = useState(PAGE);
  // the user's kept sample per group, keyed by the group's first sample id (cleared with a new threshold)
  const [keep, setKeep] = useState<Record<number, number>>({});
  useEffect(() => {
    const t = window.setTimeout(() => setThreshold(slider), 250);
    return () => window.clearTimeout(t);
  }, [slider]);
  useEffect(() => {
    setKeep({});
    setLimit(PAGE);
  }, [threshold]);
  const dups = useDuplicates(id, threshold, limit, embedded);
  const tag = useTagDuplicates(id);
  const save = useSaveView(id);
  const d = dups.data;
  const keepIds = useMemo(() => Object.values(keep), [keep]);
  const without = `/datasets/${id}?${serializeViewState({ ...DEFAULT_VIEW, xtags: [DUPLICATE_TAG] })}`;
  const only = `/datasets/${id}?${serializeViewState({ ...DEFAULT_VIEW, tags: [DUPLICATE_TAG] })}`;
  const exportUrl = `${API_BASE}/datasets/${id}/export${queryString({ exclude_tag: [DUPLICATE_TAG], format: "coco" })}`;

  return (
    <div className="dup-page" data-testid="duplicates-page">
      <DatasetCrumbs id={id} title="Near-duplicates" />
      <div className="dup-toolbar">
        <label className="dup-threshold">
          Similarity ≥{" "}
          <input type="range" min={0.8} max={1} step={0.005} value={slider} onChange={(e) => setSlider(Number(e.target.value))} aria-label="similarity threshold" data-testid="dup-threshold" />
          <span className="num">{slider.toFixed(3)}</span>
        </label>
        {d && (
          <span className="num small" data-testid="dup-summary" data-groups={d.group_count} data-duplicates={d.duplicates}>
            {d.group_count.toLocaleString()} groups · {d.duplicates.toLocaleString()} duplicates among {d.samples.toLocaleString()} images
            {dups.isFetching && " …"}
          </span>
        )}
        <button
          type="button"
          className="btn primary"
          data-testid="dup-tag"
          disabled={!d || d.group_count === 0 || tag.isPending || dups.isFetching}
          onClick={() => tag.mutate({ threshold, keep: keepIds })}
          title={d ? `keeps ${d.keep_rule} unless you chose another one; tags the others “${DUPLICATE_TAG}”` : undefined}
        >
          Keep one per group, tag the others “{DUPLICATE_TAG}”
        </button>
      </div>
      {d && <p className="muted small">Kept by default: {d.keep_rule}. “keep this one” changes it for a group.</p>}
      {tag.isError && <ErrorMessage error={tag.error} title="Tagging failed" />}
      {tag.data && (
        <div className="dup-result" data-testid="dup-result">
          <span className="ok small">
            kept {tag.data.kept.toLocaleString()}, tagged {tag.data.tagged.toLocaleString()} “{tag.data.tag}” ({tag.data.added.toLocaleString()} new{tag.data.removed ? `, ${tag.data.removed.toLocaleString()} kept ones untagged` : ""})
          </span>
          <Link className="btn small" to={without} data-testid="dup-open-without">
            Grid without duplicates
          </Link>
          <Link className="btn small ghost" to={only}>
            The duplicates
          </Link>
          <button type="button" className="btn small ghost" disabled={save.isPending || save.isSuccess} onClick={() => save.mutate({ name: "no duplicates", filters: { exclude_tag: [DUPLICATE_TAG] } })}>
            {save.isSuccess ? "Saved as “no duplicates”" : "Save view “no duplicates”"}
          </button>
          <a className="btn small ghost" href={exportUrl} download>
            Export COCO without duplicates
          </a>
          {save.isError && <ErrorMessage error={save.error} />}
        </div>
      )}
      {status.isPending ? (
        <Spinner label="Loading…" />
      ) : !embedded ? (
        <EmptyState title="No embeddings yet">
          <p>
            Near-duplicates come from the image embeddings: compute them on the <Link to={`/datasets/${id}/map`}>embeddings map</Link>.
          </p>
        </EmptyState>
      ) : dups.isError ? (
        <ErrorMessage error={dups.error} title={dups.error instanceof ApiError && dups.error.status === 422 ? "Raise the threshold" : "Cannot find the near-duplicates"} onRetry={() => dups.refetch()} />
      ) : !d ? (
        <Spinner label="Comparing every pair of images…" />
      ) : d.group_count === 0 ? (
        <EmptyState title="No near-duplicates at this threshold">
          <p>Lower the similarity to find looser look-alikes.</p>
        </EmptyState>
      ) : (
        <>
          <ul className="dup-groups">
            {d.groups.map((g) => {
              const first = g.sample_ids[0];
              return <Group key={first} group={g} kept={keep[first] ?? g.kept} onKeep={(sid) => setKeep((k) => ({ ...k, [first]: sid }))} />;
            })}
          </ul>
          {d.groups.length < d.group_count && (
            <button type="button" className="btn" onClick={() => setLimit((l) => l + PAGE)} disabled={dups.isFetching}>
              Show more groups ({(d.group_count - d.groups.length).toLocaleString()} left)
            </button>
          )}
        </>
      )}
    </div>
  );
}
