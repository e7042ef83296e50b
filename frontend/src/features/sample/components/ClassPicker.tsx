import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";

interface Props {
  categories: string[];
  initial?: string;
  /** a known category was picked */
  onPick: (name: string) => void;
  /** the user asked, explicitly, for a category the dataset does not have yet */
  onCreate: (name: string) => void;
  onCancel: () => void;
  busy?: boolean;
}

const SHOWN = 8;

/** Type-ahead over the dataset's categories; a new category only through its own explicit button. */
export function ClassPicker({ categories, initial, onPick, onCreate, onCancel, busy }: Props) {
  const [text, setText] = useState("");
  const [active, setActive] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);

  const needle = text.trim().toLowerCase();
  const matches = useMemo(() => {
    const starts = categories.filter((c) => c.toLowerCase().startsWith(needle));
    const contains = categories.filter((c) => !c.toLowerCase().startsWith(needle) && c.toLowerCase().includes(needle));
    return [...starts, ...contains].slice(0, SHOWN);
  }, [categories, needle]);
  const exact = categories.some((c) => c.toLowerCase() === needle);
  const name = text.trim();

  const onKey = (event: KeyboardEvent) => {
    if (event.key === "ArrowDown") setActive((i) => Math.min(i + 1, Math.max(matches.length - 1, 0)));
    else if (event.key === "ArrowUp") setActive((i) => Math.max(i - 1, 0));
    else if (event.key === "Enter") {
      const pick = matches[active];
      if (pick) onPick(pick); // Enter never creates a category: that is the button's job
    } else if (event.key === "Escape") onCancel();
    else return;
    event.preventDefault();
    event.stopPropagation();
  };

  return (
    <div className="class-picker" data-testid="class-picker">
      <input
        ref={input}
        value={text}
        onChange={(e) => (setText(e.target.value), setActive(0))}
        onKeyDown={onKey}
        placeholder={initial ? `class (now ${initial})` : "class"}
        aria-label="class"
        maxLength={200}
      />
      <ul role="listbox" aria-label="classes">
        {matches.map((c, i) => (
          <li key={c} role="option" aria-selected={i === active}>
            <button type="button" className={i === active ? "pick active" : "pick"} onClick={() => onPick(c)} onMouseEnter={() => setActive(i)}>
              {c}
            </button>
          </li>
        ))}
        {matches.length === 0 && <li className="muted small">no category matches</li>}
      </ul>
      <div className="input-row">
        {name && !exact && (
          <button type="button" className="btn small" disabled={busy} onClick={() => onCreate(name)} data-testid="new-category">
            New category “{name}”
          </button>
        )}
        <button type="button" className="btn small ghost" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}
