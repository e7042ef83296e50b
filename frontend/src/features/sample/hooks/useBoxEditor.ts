import { useEffect, useRef, useState } from "react";
import { ApiError } from "@/lib/api/client";
import type { ViewState } from "@/lib/url-state";
import { isConflict, useEditActions, type EditableBox, type ReviewStatus, type VerdictValue } from "../api/edits";
import { nextUnreviewed } from "../api/nextUnreviewed";
import { dragBox, sameBox, type Bbox } from "../geometry";

export const GROUND_TRUTH = "ground_truth";
export const PREDICTION_VERDICTS: [VerdictValue, string, string][] = [
  ["correct", "c", "correct"],
  ["wrong_class", "w", "wrong class"],
  ["bad_box", "b", "bad box"],
  ["duplicate", "d", "duplicate"],
  ["not_an_error", "x", "not an error"],
];
export const GROUND_TRUTH_VERDICTS: [VerdictValue, string, string][] = [
  ["correct", "c", "correct"],
  ["wrong_label", "w", "wrong label"],
  ["missing_object", "m", "missing object"],
  ["ignore", "i", "ignore"],
];
export const REVIEW_KEYS: [ReviewStatus, string, string][] = [
  ["reviewed", "r", "reviewed"],
  ["needs_fix", "f", "needs fix"],
  ["unreviewed", "u", "unreviewed"],
];

export type Picker = { mode: "class"; box: EditableBox } | { mode: "new"; bbox: Bbox };
export interface Draft {
  id: number | "new";
  bbox: Bbox;
}

interface Options {
  datasetId: number;
  sampleId: number | undefined;
  boxes: EditableBox[];
  selected: number | null;
  setSelected: (id: number | null) => void;
  view: ViewState;
  setView: (change: Partial<ViewState>, options?: { replace?: boolean }) => void;
  /** the image's displayed size (EXIF applied), the bounds of every box */
  image?: { width: number; height: number };
}

// arrow keys move the selected box by 1 image pixel, 10 with Shift; a burst of them (presses closer than
// this after the last key-up) is one edit, so one undo takes it back
export const NUDGE_SETTLE_MS = 300;
const NUDGES: Record<string, [number, number]> = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

function messageOf(error: unknown): string {
  return error instanceof ApiError ? error.detail : String((error as Error)?.message ?? error);
}

/** The sample view's editing state: drafts while dragging, the class picker, conflicts and errors. */
export function useBoxEditor({ datasetId, sampleId, boxes, selected, setSelected, view, setView, image }: Options) {
  const actions = useEditActions(datasetId);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [drawing, setDrawing] = useState(false);
  const [picker, setPicker] = useState<Picker | null>(null);
  const [conflict, setConflict] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  // another sample: nothing of this one's editing carries over
  const shown = useRef(sampleId);
  useEffect(() => {
    if (shown.current === sampleId) return;
    shown.current = sampleId;
    setDraft(null);
    setDrawing(false);
    setPicker(null);
    setConflict(null);
    setError(null);
    setNotice(null);
  }, [sampleId]);

  const box = selected !== null ? boxes.find((b) => b.id === selected) : undefined;
  const editable = box?.source === GROUND_TRUTH ? box : undefined;
  const busy = actions.busy;
  const locked = conflict !== null; // after a 409 nothing is sent until the user reloads

  const failed = (err: unknown) => {
    if (isConflict(err)) setConflict(err.detail);
    else {
      setError(messageOf(err));
      setDraft(null);
    }
  };
  const ok = () => (setError(null), setNotice(null));

  const commitBox = (bbox: Bbox) => {
    if (locked) return;
    if (drawing) {
      setDrawing(false);
      if (bbox[2] < 2 || bbox[3] < 2) return setDraft(null);
      setDraft({ id: "new", bbox });
      setPicker({ mode: "new", bbox });
      return;
    }
    if (!editable) return;
    if (sameBox(bbox, editable.bbox)) return setDraft(null);
    setDraft({ id: editable.id, bbox });
    actions.update.mutate({ box: editable, bbox }, { onSuccess: () => (ok(), setDraft(null)), onError: failed });
  };

  const pick = (category: string) => {
    const p = picker;
    setPicker(null);
    if (!p || locked) return;
    if (p.mode === "class") {
      if (category === p.box.category) return;
      actions.update.mutate({ box: p.box, category }, { onSuccess: ok, onError: failed });
    } else if (sampleId !== undefined) {
      actions.create.mutate(
        { sampleId, bbox: p.bbox, category },
        { onSuccess: (reply) => (ok(), setDraft(null), setSelected(reply.annotation?.id ?? null)), onError: failed },
      );
    }
  };
  const createCategory = (name: string) =>
    actions.addCategory.mutate(name, { onSuccess: () => pick(name), onError: (err) => setError(messageOf(err)) });
  const cancelPicker = () => {
    if (picker?.mode === "new") setDraft(null);
    setPicker(null);
  };

  const remove = () => {
    if (!editable || locked) return;
    actions.remove.mutate(editable, { onSuccess: () => (ok(), setSelected(null)), onError: failed });
  };
  const verdict = (value: VerdictValue) => {
    if (!box || locked) return;
    actions.verdict.mutate({ box, verdict: box.verdict === value ? null : value }, { onSuccess: ok, onError: failed });
  };
  const promote = () => {
    if (!box || box.source === GROUND_TRUTH || locked) return;
    actions.promote.mutate(box, { onSuccess: (reply) => (ok(), setSelected(reply.annotation?.id ?? null)), onError: failed });
  };
  const review = (status: ReviewStatus) => {
    if (sampleId === undefined) return;
    actions.review.mutate({ sampleId, status }, { onSuccess: ok, onError: failed });
  };
  const step = (which: "undo" | "redo") => {
    if (locked) return;
    setDraft(null);
    actions[which].mutate(undefined, {
      onSuccess: (reply) => (ok(), setNotice(`${which === "undo" ? "undid" : "redid"} ${reply.applied.action} of ${reply.applied.target} ${reply.applied.target_id}`)),
      onError: (err) => setError(messageOf(err)),
    });
  };
  const reload = () => {
    setConflict(null);
    setError(null);
    setDraft(null);
    setPicker(null);
    return actions.refresh();
  };
  const goNextUnreviewed = async () => {
    try {
      const next = await nextUnreviewed(datasetId, view, sampleId);
      if (!next) return setNotice("every sample of this list is reviewed");
      setSelected(null);
      setView(next.open !== undefined ? { open: next.open, sid: undefined } : { sid: next.sid }, { replace: true });
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const startDrawing = () => {
    if (locked) return;
    setSelected(null);
    setPicker(null);
    setDraft(null);
    setDrawing((v) => !v);
  };
  const openPicker = () => {
    if (editable && !locked) setPicker({ mode: "class", box: editable });
  };

  // keyboard nudge: the box moves in the draft at once, the edit is sent when the burst settles
  const nudged = useRef<{ id: number; bbox: Bbox } | null>(null);
  const settle = useRef<ReturnType<typeof setTimeout> | null>(null);
  const commitRef = useRef(commitBox);
  commitRef.current = commitBox;
  const nudge = (event: KeyboardEvent) => {
    if (!editable || locked || !image || busy) return;
    if (settle.current) clearTimeout(settle.current);
    const [dx, dy] = NUDGES[event.key];
    const by = event.shiftKey ? 10 : 1;
    const base = nudged.current?.id === editable.id ? nudged.current.bbox : (editable.bbox as Bbox);
    const bbox = dragBox(base, "move", dx * by, dy * by, image.width, image.height);
    nudged.current = { id: editable.id, bbox };
    setDraft({ id: editable.id, bbox });
  };
  useEffect(() => {
    const onUp = (event: KeyboardEvent) => {
      if (!(event.key in NUDGES) || !nudged.current) return;
      if (settle.current) clearTimeout(settle.current);
      settle.current = setTimeout(() => {
        const done = nudged.current;
        nudged.current = null;
        if (done) commitRef.current(done.bbox);
      }, NUDGE_SETTLE_MS);
    };
    window.addEventListener("keyup", onUp);
    return () => {
      window.removeEventListener("keyup", onUp);
      if (settle.current) clearTimeout(settle.current);
    };
  }, []);
  useEffect(() => {
    nudged.current = null; // another box or sample: a pending nudge of the old one is dropped with its draft
  }, [selected, sampleId]);

  // Ctrl+Z / Ctrl+Shift+Z (and Ctrl+Y): the backend's undo and redo of this dataset's last edits
  const stepRef = useRef(step);
  stepRef.current = step;
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (!(event.ctrlKey || event.metaKey) || event.altKey) return;
      const target = event.target as HTMLElement | null;
      if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
      const key = event.key.toLowerCase();
      if (key === "z") stepRef.current(event.shiftKey ? "redo" : "undo");
      else if (key === "y") stepRef.current("redo");
      else return;
      event.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const keys: Record<string, (event: KeyboardEvent) => void> = {
    a: startDrawing,
    t: openPicker,
    Delete: remove,
    Backspace: remove,
    p: promote,
    n: () => void goNextUnreviewed(),
  };
  // with a ground-truth box selected the arrows move it (otherwise they page through the samples)
  if (editable && !locked && image) for (const key of Object.keys(NUDGES)) keys[key] = nudge;
  for (const [status, key] of REVIEW_KEYS) keys[key] = () => review(status);
  const verdicts = box ? (box.source === GROUND_TRUTH ? GROUND_TRUTH_VERDICTS : PREDICTION_VERDICTS) : [];
  for (const [value, key] of verdicts) keys[key] = () => verdict(value);
  if (drawing || picker) keys.Escape = () => (setDrawing(false), cancelPicker());

  return {
    actions,
    box,
    editable,
    draft,
    setDraft,
    drawing,
    picker,
    conflict,
    error,
    notice,
    busy,
    locked,
    keys,
    verdicts,
    commitBox,
    pick,
    createCategory,
    cancelPicker,
    remove,
    verdict,
    promote,
    review,
    step,
    reload,
    goNextUnreviewed,
    startDrawing,
    openPicker,
  };
}
export type BoxEditor = ReturnType<typeof useBoxEditor>;
