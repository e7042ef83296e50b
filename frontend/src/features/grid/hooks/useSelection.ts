import { useCallback, useState } from "react";

export interface Selection {
  ids: ReadonlySet<number>;
  /** every sample matching the filter, loaded or not */
  all: boolean;
  anchor: number | null;
}

const EMPTY: Selection = { ids: new Set(), all: false, anchor: null };

/** Grid selection: click toggles, shift-click selects a range from the anchor, or all matching. */
export function useSelection(idAt: (index: number) => number | undefined) {
  const [selection, setSelection] = useState<Selection>(EMPTY);

  const toggle = useCallback(
    (index: number) => {
      const id = idAt(index);
      if (id === undefined) return;
      setSelection((s) => {
        const ids = new Set(s.ids);
        if (ids.has(id)) ids.delete(id);
        else ids.add(id);
        return { ids, all: false, anchor: index };
      });
    },
    [idAt],
  );

  const range = useCallback(
    (index: number) => {
      setSelection((s) => {
        const from = s.anchor ?? index;
        const [lo, hi] = from < index ? [from, index] : [index, from];
        const ids = new Set(s.ids);
        for (let i = lo; i <= hi; i++) {
          const id = idAt(i);
          if (id !== undefined) ids.add(id);
        }
        return { ids, all: false, anchor: index };
      });
    },
    [idAt],
  );

  const selectAll = useCallback(() => setSelection({ ids: new Set(), all: true, anchor: null }), []);
  const clear = useCallback(() => setSelection(EMPTY), []);
  return { selection, toggle, range, selectAll, clear };
}
