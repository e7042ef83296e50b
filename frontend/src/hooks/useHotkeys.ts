import { useEffect, useRef } from "react";

/**
 * Key handlers on the window, ignored while the user types into a field. Escape in a field only leaves the
 * field (its text kept): closing the view around it dropped what was being typed; the next Escape acts.
 */
export function useHotkeys(map: Record<string, (event: KeyboardEvent) => void>, enabled = true): void {
  const ref = useRef(map);
  ref.current = map;
  useEffect(() => {
    if (!enabled) return;
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) {
        if (event.key === "Escape" && target.isConnected) {
          event.preventDefault();
          target.blur();
        }
        return;
      }
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const handler = ref.current[event.key];
      if (handler) {
        event.preventDefault();
        handler(event);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [enabled]);
}
