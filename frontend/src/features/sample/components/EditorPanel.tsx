import type { BoxEditor } from "../hooks/useBoxEditor";
import { GROUND_TRUTH, REVIEW_KEYS } from "../hooks/useBoxEditor";
import { REVIEW_STATUSES, type ReviewStatus } from "../api/edits";
import { ClassPicker } from "./ClassPicker";

interface Props {
  editor: BoxEditor;
  categories: string[];
  reviewStatus: ReviewStatus | undefined;
}

/** The sample view's editing controls: review status, the selected box's class, verdict and fixes, undo. */
export function EditorPanel({ editor, categories, reviewStatus }: Props) {
  const { box, editable, picker, conflict, error, notice, busy, locked } = editor;
  return (
    <section className="side-section editor" data-testid="editor">
      <header>
        <h3>Edit</h3>
        <span className="input-row">
          <button type="button" className="btn small" onClick={() => editor.step("undo")} disabled={locked || busy} title="undo (Ctrl+Z)">
            Undo
          </button>
          <button type="button" className="btn small" onClick={() => editor.step("redo")} disabled={locked || busy} title="redo (Ctrl+Shift+Z)">
            Redo
          </button>
        </span>
      </header>

      {conflict && (
        <div className="edit-conflict" role="alert" data-testid="edit-conflict">
          <strong>Changed by someone else.</strong> Your change was not saved: {conflict}
          <div className="input-row">
            <button type="button" className="btn small primary" onClick={() => void editor.reload()}>
              Reload (discard my change)
            </button>
          </div>
        </div>
      )}
      {error && (
        <p className="edit-error" role="alert" data-testid="edit-error">
          {error}
        </p>
      )}
      {notice && (
        <p className="muted small" data-testid="edit-notice">
          {notice}
        </p>
      )}

      <div className="review" data-testid="review-status" data-status={reviewStatus ?? ""}>
        <span className="muted small">Sample</span>
        {REVIEW_STATUSES.map((status) => {
          const key = REVIEW_KEYS.find(([s]) => s === status)?.[1];
          return (
            <button
              key={status}
              type="button"
              className={reviewStatus === status ? "btn small primary" : "btn small"}
              aria-pressed={reviewStatus === status}
              onClick={() => editor.review(status)}
              title={`${status} (${key})`}
            >
              {status.replace("_", " ")}
            </button>
          );
        })}
        <button type="button" className="btn small ghost" onClick={() => void editor.goNextUnreviewed()} title="next unreviewed (N)">
          Next unreviewed →
        </button>
      </div>

      <div className="input-row">
        <button type="button" className={editor.drawing ? "btn small primary" : "btn small"} onClick={editor.startDrawing} disabled={locked} title="draw a new box (A)" data-testid="draw-box">
          {editor.drawing ? "Drawing… (Esc)" : "New box"}
        </button>
        {editable && (
          <>
            <button type="button" className="btn small" onClick={editor.openPicker} disabled={locked} title="change the class (T)">
              Class…
            </button>
            <button type="button" className="btn small danger" onClick={editor.remove} disabled={locked || busy} title="delete (Del)">
              Delete
            </button>
          </>
        )}
        {box && box.source !== GROUND_TRUTH && (
          <button type="button" className="btn small" onClick={editor.promote} disabled={locked || busy} title="promote to ground truth (P)">
            Promote to ground truth
          </button>
        )}
      </div>

      {picker && (
        <ClassPicker
          categories={categories}
          initial={picker.mode === "class" ? picker.box.category : undefined}
          onPick={editor.pick}
          onCreate={editor.createCategory}
          onCancel={editor.cancelPicker}
          busy={busy}
        />
      )}

      {box && (
        <div className="verdicts" data-testid="verdicts">
          <span className="muted small">Verdict</span>
          {editor.verdicts.map(([value, key, label]) => (
            <button
              key={value}
              type="button"
              className={box.verdict === value ? "btn small primary" : "btn small"}
              aria-pressed={box.verdict === value}
              onClick={() => editor.verdict(value)}
              disabled={locked}
              title={`${label} (${key.toUpperCase()})`}
              data-verdict={value}
            >
              {label} <kbd>{key}</kbd>
            </button>
          ))}
        </div>
      )}
      {!box && !editor.drawing && <p className="muted small">Select a box to move, resize, re-class, delete, triage or promote it.</p>}
    </section>
  );
}
