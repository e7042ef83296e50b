import { useEffect, useState, type DragEvent } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router-dom";
import { DatasetCrumbs } from "@/components/DatasetCrumbs";
import { EmptyState, ErrorMessage, Spinner } from "@/components/feedback";
import { useQuery } from "@tanstack/react-query";
import { imageUrl } from "@/lib/api/client";
import { sampleQuery } from "@/lib/api/queries";
import { DEFAULT_VIEW, serializeViewState } from "@/lib/url-state";
import { useCreateSelection, useSearchByImage, useSimilarToSample, type SimilarHit } from "../api";
import "../similar.css";

function Hits({ datasetId, hits }: { datasetId: number; hits: SimilarHit[] }) {
  const navigate = useNavigate();
  const select = useCreateSelection(datasetId);
  if (hits.length === 0) return <EmptyState title="No look-alikes">The dataset has no other embedded image.</EmptyState>;
  const openAll = async () => {
    const s = await select.mutateAsync(hits.map((h) => h.sample_id));
    navigate(`/datasets/${datasetId}?${serializeViewState({ ...DEFAULT_VIEW, selection: s.id })}`);
  };
  return (
    <>
      <div className="similar-actions">
        <span className="small muted">best first</span>
        <button type="button" className="btn small" onClick={openAll} disabled={select.isPending} data-testid="similar-open-grid">
          Open these {hits.length} in the grid
        </button>
        {select.isError && <ErrorMessage error={select.error} />}
      </div>
      <ol className="similar-grid" data-testid="similar-hits">
        {hits.map((h, rank) => (
          <li key={h.sample_id} data-sample-id={h.sample_id} data-rank={rank}>
            <Link to={`/datasets/${datasetId}?${serializeViewState({ ...DEFAULT_VIEW, sid: h.sample_id })}`} title={`open sample ${h.sample_id}`}>
              <img src={imageUrl(h.sample_id, "small")} alt="" loading="lazy" />
            </Link>
            <span className="num small">
              #{rank + 1} · {h.score.toFixed(3)}
            </span>
            <Link className="small" to={`/datasets/${datasetId}/similar?sample=${h.sample_id}`}>
              more like this
            </Link>
          </li>
        ))}
      </ol>
    </>
  );
}

/** /datasets/:id/similar — look-alikes of a dropped or picked picture, or of a sample (?sample=<id>). */
export function SimilarPage() {
  const id = Number(useParams().id);
  const [params, setParams] = useSearchParams();
  const raw = params.get("sample");
  const sampleId = raw && /^\d+$/.test(raw) ? Number(raw) : undefined;
  const bySample = useSimilarToSample(sampleId);
  // a `?sample=` of another dataset (a stale or edited link): its look-alikes are that dataset's, not this one's
  const probe = useQuery({ ...sampleQuery(sampleId ?? 0), enabled: sampleId !== undefined });
  const foreign = probe.data !== undefined && probe.data.dataset_id !== id;
  const byImage = useSearchByImage(id);
  const [file, setFile] = useState<{ name: string; url: string } | null>(null);
  const [over, setOver] = useState(false);
  useEffect(() => () => void (file && URL.revokeObjectURL(file.url)), [file]);

  const search = (f: File | undefined) => {
    if (!f) return;
    setFile({ name: f.name, url: URL.createObjectURL(f) });
    if (sampleId !== undefined) setParams({}, { replace: true });
    byImage.mutate(f);
  };
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    search(e.dataTransfer.files[0]);
  };
  const showImage = sampleId === undefined;
  const result = showImage ? byImage : bySample;

  return (
    <div className="similar-page" data-testid="similar-page">
      <DatasetCrumbs id={id} title="Find similar" />
      <div className="similar-query">
        <label
          className={`drop-zone${over ? " over" : ""}`}
          onDragOver={(e) => (e.preventDefault(), setOver(true))}
          onDragLeave={() => setOver(false)}
          onDrop={onDrop}
        >
          <input type="file" accept="image/*" data-testid="similar-file" onChange={(e) => search(e.target.files?.[0])} />
          <span>Drop a picture here, or click to pick one (JPEG, PNG, WebP…, up to 50 MiB)</span>
        </label>
        {showImage && file && (
          <figure className="similar-probe">
            <img src={file.url} alt="" />
            <figcaption className="small">{file.name}</figcaption>
          </figure>
        )}
        {!showImage && (
          <figure className="similar-probe" data-testid="similar-probe" data-sample-id={sampleId}>
            <img src={imageUrl(sampleId, "small")} alt="" />
            <figcaption className="small num">sample {sampleId}</figcaption>
          </figure>
        )}
      </div>
      {!showImage && foreign ? (
        <ErrorMessage error={`Sample ${sampleId} belongs to another dataset, not this one.`} title="Cannot search" />
      ) : result.isError ? (
        <ErrorMessage error={result.error} title="Cannot search" />
      ) : result.isPending ? (
        <Spinner label="Searching…" />
      ) : result.data && (showImage || probe.data) ? (
        <Hits datasetId={id} hits={result.data} />
      ) : (
        <p className="muted">The images of this dataset that look most like it appear here (cosine similarity of the embeddings).</p>
      )}
    </div>
  );
}
