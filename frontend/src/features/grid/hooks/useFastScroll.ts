import { useEffect, useReducer, useRef } from "react";

/** Faster than this (CSS px per ms, ~13 rows of 232 px a second) a page arrives after its rows have gone. */
export const FAST_PX_PER_MS = 3;
/** How long after the last fast step the grid still counts as flying past. */
export const SETTLE_MS = 120;
/**
 * Steps further apart than this are not one gesture: a jump (scrollbar click, scroll to top) is not "fast".
 * Generous, because on a busy machine frames of a fling come 100+ ms apart.
 */
const GESTURE_GAP_MS = 300;

/**
 * True while the scroll offset moves faster than pages can be fetched and drawn. The grid holds back new
 * page requests meanwhile (and so their thumbnails): scrolling 10,000 rows otherwise fired and cancelled
 * hundreds of ~700 KB pages, whose parsing and drawing made the long tasks (bench/app.py). A re-render
 * when the grid settles requests the pages then in view.
 */
export function useFastScroll(offset: number): boolean {
  const last = useRef({ offset, at: 0, fastUntil: 0 });
  const [, wake] = useReducer((n: number) => n + 1, 0);
  const now = performance.now();
  const previous = last.current;
  if (offset !== previous.offset) {
    const gap = now - previous.at;
    const speed = Math.abs(offset - previous.offset) / Math.max(gap, 1);
    const fast = gap < GESTURE_GAP_MS && speed > FAST_PX_PER_MS;
    last.current = { offset, at: now, fastUntil: fast ? now + SETTLE_MS : previous.fastUntil };
  }
  const fast = now < last.current.fastUntil;
  useEffect(() => {
    if (!fast) return;
    const timer = window.setTimeout(wake, Math.max(0, last.current.fastUntil - performance.now()) + 1);
    return () => window.clearTimeout(timer);
  });
  return fast;
}
