import { Link } from "react-router-dom";
import { useLayoutEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { BoxOverlay } from "@/components/BoxOverlay";
import { ErrorMessage, Spinner } from "@/components/feedback";
import { useHotkeys } from "@/hooks/useHotkeys";
import { imageUrl } from "@/lib/api/client";
import type { Annotation, BoxEvaluation } from "@/lib/api/types";
import { categoryColor } from "@/lib/colors";
import type { ViewState } from "@/lib/url-state";
import { useEmbedded, useSample, useSampleAt, useSampleTags, useSimilar } from "../api";
import { useCategories, type EditableBox, type ReviewStatus } from "../api/edits";
import { useBoxEditor } from "../hooks/useBoxEditor";
import { EditLayer } from "./EditLayer";
import { EditorPanel } from "./EditorPanel";
import { SampleHistory } from "./SampleHistory";

interface Props {
  datasetId: number;
  view: ViewState;
  setView: (change: Partial<ViewState>, options?: { replace?: boolean }) => void;
}

function evaluationOf(box: Annotation, run: string | undefined): [string, BoxEvaluation] | null {
  const entries = Object.entries(box.evaluation ?? {});
  if (!entries.length) return null;
  const key = box.source !== "ground_truth" ? box.source : run && box.evaluation[run] ? run : entries[0][0];
  const value = box.evaluation[key];
  return value ? [key, value] : null;
}

function useStageScale(width: number, height: number) {
  const stage = useRef<HTMLDivElement>(null);
  const [scale, setScale] = useState(1);
  useLayoutEffect(() => {
    const element = stage.current;
    if (!element || !width || !height) return;
    const update = () => setScale(Math.min(element.clientWidth / width, element.clientHeight / height));
    const observer = new ResizeObserver(update);
    observer.observe(element);
    update();
    return () => observer.disconnect();
  }, [width, height]);
  return { stage, scale };
}

/** One sample: the image with every box, box details with their evaluation, tags, neighbours. */
export function SampleView({ datasetId, view, setView }: Props) {
  const at = useSampleAt(datasetId, view, view.sid === undefined ? view.open : undefined);
  const requested = view.sid ?? at.id;
  const sample = useSample(requested);
  // a `?sample=` id of another dataset (a stale or edited link) is not shown, nor edited, under this one's name
  const foreign = sample.data !== undefined && sample.data.dataset_id !== datasetId;
  const sampleId = foreign ? undefined : requested;
  const data = foreign ? undefined : sample.data;
  // waiting for the list's page (an `?open=` position) or for the sample; never once the answer is "none"
  const loading = requested === undefined ? view.sid === undefined && view.open !== undefined && at.query.isPending : sample.isPending;
  const [hovered, setHovered] = useState<number | null>(null);
  const [selected, setSelected] = useState<number | null>(null);
  const { stage, scale } = useStageScale(data?.width ?? 0, data?.height ?? 0);
  const embedded = useEmbedded(datasetId);
  const similar = useSimilar(sampleId, embedded);
  const tags = useSampleTags(datasetId, sampleId);
  const [newTag, setNewTag] = useState("");

  const close = () => setView({ open: undefined, sid: undefined });
  const step = (delta: number) => {
    if (view.open === undefined || view.sid !== undefined || at.total === undefined) return;
    const next = view.open + delta;
    if (next < 0 || next >= at.total) return;
    setSelected(null);
    setHovered(null);
    setView({ open: next }, { replace: true });
  };
  const stored = (data?.annotations ?? []) as EditableBox[];
  const image = useMemo(() => (data?.width && data?.height ? { width: data.width, height: data.height } : undefined), [data?.width, data?.height]);
  const editor = useBoxEditor({ datasetId, sampleId, boxes: stored, selected, setSelected, view, setView, image });
  const categories = useCategories(datasetId);
  useHotkeys({ Escape: close, ArrowLeft: () => step(-1), ArrowRight: () => step(1), ...editor.keys });

  // the box being dragged is drawn where the drag has it, until the server has stored it
  const draft = editor.draft;
  const boxes = useMemo(
    () => (draft && draft.id !== "new" ? stored.map((b) => (b.id === draft.id ? { ...b, bbox: draft.bbox } : b)) : stored),
    [stored, draft],
  );
  const editing = draft?.id === "new" ? draft.bbox : editor.editable ? (draft?.id === editor.editable.id ? draft.bbox : (editor.editable.bbox as [number, number, number, number])) : null;

  const focus = selected ?? hovered;
  const byId = useMemo(() => new Map(boxes.map((a) => [a.id, a])), [boxes]);
  const focused = focus !== null ? byId.get(focus) : undefined;
  const focusedEval = focused ? evaluationOf(focused, view.run) : null;
  const lit = useMemo(() => {
    const set = new Set<number>();
    if (focused) {
      set.add(focused.id);
      const partner = focusedEval?.[1].partner_id;
      if (partner != null) set.add(partner);
    }
    return set;
  }, [focused, focusedEval]);

  const sources = useMemo(() => {
    const groups = new Map<string, Annotation[]>();
    for (const a of boxes) groups.set(a.source, [...(groups.get(a.source) ?? []), a]);
    return [...groups.entries()];
  }, [boxes]);

  const addTag = (event: FormEvent) => {
    event.preventDefault();
    const name = newTag.trim();
    if (name) tags.mutate({ add: [name] }, { onSuccess: () => setNewTag("") });
  };

  const position = view.sid === undefined && view.open !== undefined && at.total !== undefined && view.open < at.total ? `${(view.open + 1).toLocaleString()} / ${at.total.toLocaleString()}` : null;

  return (
    <div className="sample-view" role="dialog" aria-modal="true" aria-label="sample" data-testid="sample-view" data-sample-id={sampleId}>
      <header className="sample-head">
        <button type="button" className="btn ghost" onClick={close} aria-label="close (Esc)">
          ✕ Close
        </button>
        <div className="sample-title">
          <strong data-testid="sample-file">{data?.file_name ?? "…"}</strong>
          {data && (
            <span className="muted small num">
              {data.width}×{data.height} · {data.split ?? "no split"} · {data.annotation_count} boxes
            </span>
          )}
        </div>
        {position && (
          <div className="sample-nav">
            <button type="button" className="btn small" onClick={() => step(-1)} disabled={view.open === 0} aria-label="previous (←)">
              ←
            </button>
            <span className="num" data-testid="sample-position">
              {position}
            </span>
            <button type="button" className="btn small" onClick={() => step(1)} disabled={at.total !== undefined && view.open !== undefined && view.open + 1 >= at.total} aria-label="next (→)">
              →
            </button>
          </div>
        )}
      </header>
      <div className="sample-body">
        <div className="stage" ref={stage} onClick={() => setSelected(null)}>
          {loading && !at.query.isError && <Spinner />}
          {at.query.isError && <ErrorMessage error={at.query.error} title="Cannot find this sample" />}
          {sample.isError && <ErrorMessage error={sample.error} title="Cannot load this sample" onRetry={() => sample.refetch()} />}
          {foreign && <ErrorMessage error={`Sample ${requested} belongs to another dataset, not this one.`} title="Cannot open this sample" />}
          {view.sid === undefined && view.open !== undefined && at.query.data && requested === undefined && <ErrorMessage error="No sample at this position: the list is shorter." />}
          {data && !(data.width && data.height) && <img src={imageUrl(data.id, "large")} alt={data.file_name} className="stage-img" />}
          {data && data.width && data.height && (
            <div className="stage-frame">
              <img key={data.id} src={imageUrl(data.id, "large")} alt={data.file_name} className="stage-img" />
              <BoxOverlay
                width={data.width}
                height={data.height}
                boxes={boxes}
                scale={scale}
                labels={view.labels}
                highlighted={lit}
                selected={selected}
                onHover={setHovered}
                onSelect={(id) => !editor.drawing && setSelected(id)}
              />
              {(editing || editor.drawing) && (
                <EditLayer
                  width={data.width}
                  height={data.height}
                  scale={scale}
                  bbox={editing}
                  drawing={editor.drawing}
                  disabled={editor.locked || editor.actions.update.isPending}
                  onDraft={(bbox) => editor.setDraft({ id: editor.drawing ? "new" : (editor.editable?.id ?? "new"), bbox })}
                  onCommit={editor.commitBox}
                />
              )}
            </div>
          )}
        </div>
        {sampleId !== undefined && !sample.isError && (
        <aside className="sample-side">
          <EditorPanel editor={editor} categories={categories} reviewStatus={(data as { review_status?: ReviewStatus } | undefined)?.review_status} />
          <section className="side-section box-detail" data-testid="box-detail">
            <header>
              <h3>Box</h3>
            </header>
            {focused ? (
              <dl className="kv">
                <dt>Class</dt>
                <dd>
                  <span className="swatch" style={{ background: categoryColor(focused.category) }} aria-hidden /> {focused.category}
                </dd>
                <dt>Source</dt>
                <dd>{focused.source === "ground_truth" ? "ground truth" : focused.source}</dd>
                <dt>Score</dt>
                <dd className="num">{focused.confidence === null ? "—" : focused.confidence.toFixed(3)}</dd>
                <dt>Box</dt>
                <dd className="num small" data-testid="box-coords">
                  {focused.bbox.map((v) => Math.round(v * 10) / 10).join(", ")}
                </dd>
                <dt>Verdict</dt>
                <dd data-testid="box-verdict">{(focused as EditableBox).verdict ?? "—"}</dd>
                {focusedEval && (
                  <>
                    <dt>Status</dt>
                    <dd>
                      <span className={`badge eval-${focusedEval[1].status}`} data-testid="box-status">
                        {focusedEval[1].status}
                      </span>{" "}
                      <span className="muted small">{focusedEval[0]}</span>
                    </dd>
                    <dt>Error</dt>
                    <dd>{focusedEval[1].error ?? "—"}</dd>
                    <dt>IoU</dt>
                    <dd className="num">{focusedEval[1].iou == null ? "—" : focusedEval[1].iou.toFixed(3)}</dd>
                    <dt>Partner</dt>
                    <dd>{focusedEval[1].partner_id == null ? "none" : `box ${focusedEval[1].partner_id} (highlighted)`}</dd>
                  </>
                )}
              </dl>
            ) : (
              <p className="muted small">Hover or click a box to see its class, score and evaluation.</p>
            )}
          </section>

          <SampleHistory sampleId={sampleId} />

          <section className="side-section">
            <header>
              <h3>Tags</h3>
            </header>
            <div className="tag-list" data-testid="sample-tags">
              {(data?.tags ?? []).map((t) => (
                <span key={t} className="tag-chip">
                  <span className="tag-text" title={t}>
                    {t}
                  </span>
                  <button type="button" className="chip-x" aria-label={`remove tag ${t}`} onClick={() => tags.mutate({ remove: [t] })}>
                    ✕
                  </button>
                </span>
              ))}
              {data && data.tags.length === 0 && <span className="muted small">no tags</span>}
            </div>
            <form className="input-row" onSubmit={addTag}>
              <input value={newTag} onChange={(e) => setNewTag(e.target.value)} placeholder="add a tag" aria-label="add a tag" maxLength={200} />
              <button type="submit" className="btn small" disabled={!newTag.trim() || tags.isPending}>
                Add
              </button>
            </form>
            {tags.isError && <ErrorMessage error={tags.error} />}
          </section>

          <section className="side-section">
            <header>
              <h3>Boxes</h3>
              <span className="muted small num">{data?.annotations.length ?? 0}</span>
            </header>
            <div className="box-list" data-testid="box-list">
              {sources.map(([source, boxes]) => (
                <div key={source} className="box-group">
                  <div className="box-group-title">
                    <span className={source === "ground_truth" ? "line solid" : "line dashed"} aria-hidden /> {source === "ground_truth" ? "ground truth" : source}
                  </div>
                  {boxes.map((b) => {
                    const ev = evaluationOf(b, view.run);
                    return (
                      <button
                        type="button"
                        key={b.id}
                        className={lit.has(b.id) ? "box-row lit" : "box-row"}
                        data-box-id={b.id}
                        onMouseEnter={() => setHovered(b.id)}
                        onMouseLeave={() => setHovered(null)}
                        onClick={() => setSelected(selected === b.id ? null : b.id)}
                      >
                        <span className="swatch" style={{ background: categoryColor(b.category) }} aria-hidden />
                        <span className="box-name">{b.category}</span>
                        {b.confidence !== null && <span className="num muted small">{b.confidence.toFixed(2)}</span>}
                        {ev && <span className={`badge small eval-${ev[1].status}`}>{ev[1].status}</span>}
                        {(b as EditableBox).verdict && <span className="badge small verdict">{(b as EditableBox).verdict}</span>}
                      </button>
                    );
                  })}
                </div>
              ))}
              {data && data.annotations.length === 0 && <p className="muted small">No boxes on this sample.</p>}
            </div>
          </section>
        </aside>
        )}
      </div>
      {embedded && sampleId !== undefined && (
        <footer className="similar" data-testid="similar">
          <span className="similar-title">Similar</span>
          {sampleId !== undefined && (
            <Link className="small" to={`/datasets/${datasetId}/similar?sample=${sampleId}`} data-testid="find-similar">
              more…
            </Link>
          )}
          {similar.isPending && <Spinner />}
          {similar.isError && <ErrorMessage error={similar.error} />}
          {similar.data?.map((hit) => (
            <button type="button" key={hit.sample_id} className="similar-item" onClick={() => setView({ sid: hit.sample_id })} title={`similarity ${hit.score.toFixed(3)}`}>
              <img src={imageUrl(hit.sample_id, "small")} alt="" loading="lazy" />
              <span className="num small">{hit.score.toFixed(2)}</span>
            </button>
          ))}
        </footer>
      )}
    </div>
  );
}
