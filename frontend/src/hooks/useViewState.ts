import { useCallback, useMemo } from "react";
import { useSearchParams } from "react-router-dom";
import { parseViewState, serializeViewState, updateView, type ViewState } from "@/lib/url-state";

/** The view state of the current URL and a setter that writes it back (a history entry per change). */
export function useViewState(): [ViewState, (change: Partial<ViewState>, options?: { replace?: boolean }) => void] {
  const [params, setParams] = useSearchParams();
  const key = params.toString();
  const view = useMemo(() => parseViewState(key), [key]);
  const setView = useCallback(
    (change: Partial<ViewState>, options?: { replace?: boolean }) => {
      setParams(
        (current) => new URLSearchParams(serializeViewState(updateView(parseViewState(current), change))),
        { replace: options?.replace ?? false },
      );
    },
    [setParams],
  );
  return [view, setView];
}
