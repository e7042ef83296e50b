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
 *
 * Settled means the position has not moved for SETTLE_MS, checked in an animation frame against the
 * scroller itself: on a busy machine a frame of a fling can come later than the timer, which then took the
 * stall for a stop and requested a page the grid had left by the time it arrived.
 */
export function useFastScroll(offset: number, scroller: () => HTMLElement | null): boolean {
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
    let timer = 0;
    let frame = 0;
    let checks = 0; // bounded: a scroller whose position never matches ours must not keep the grid waiting
    const arm = () => {
      timer = window.setTimeout(() => {
        frame = requestAnimationFrame(() => {
          const top = scroller()?.scrollTop;
          if (top !== undefined && Math.abs(top - last.current.offset) > 1 && ++checks < 10) {
            // still moving (its scroll event is yet to come): not settled
            last.current.fastUntil = performance.now() + SETTLE_MS;
            arm();
          } else wake();
        });
      }, Math.max(0, last.current.fastUntil - performance.now()) + 1);
    };
    arm();
    return () => {
      window.clearTimeout(timer);
      cancelAnimationFrame(frame);
    };
  });
  return fast;
}
