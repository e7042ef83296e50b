import { memo, useEffect, useReducer, useRef } from "react";
import { imageUrl } from "@/lib/api/client";
import type { PageItem } from "@/lib/api/page-boxes";

function thumbSize(edge: number): "small" | "medium" | "large" {
  const px = edge * (window.devicePixelRatio || 1);
  return px <= 128 ? "small" : px <= 256 ? "medium" : "large";
}

/** The thumbnail a cell of `edge` CSS px shows (the grid preloads the first screen's by the same URL). */
export const thumbUrl = (id: number, edge: number): string => imageUrl(id, thumbSize(edge));

interface Props {
  item: PageItem;
  index: number;
  size: number;
  selected: boolean;
  onClick: (index: number, event: React.MouseEvent) => void;
  onToggle: (index: number, event: React.MouseEvent) => void;
  /** the cell's thumbnail has loaded (or failed); its boxes are the row's (RowBoxes) */
  onDone: (index: number, part: "image") => void;
  /** not yet: the thumbnail is not requested (a row below the screen while the screen's own are loading) */
  deferImage?: boolean;
  /**
   * mounted by a scroll: the thumbnail is requested a frame later if the cell is still there. A
   * fling mounts and unmounts every row it passes within a frame; their requests (set, then cancelled) and
   * decodes were part of the long task at the scroll's start (bench/app.py)
   */
  lazyImage?: boolean;
}

export const Thumb = memo(function Thumb({ item, index, size, selected, onClick, onToggle, onDone, deferImage, lazyImage }: Props) {
  const img = useRef<HTMLImageElement>(null);
  // once asked for, a thumbnail stays asked for
  const wanted = useRef(!deferImage && !lazyImage);
  if (!deferImage && !lazyImage) wanted.current = true;
  const [, want] = useReducer((n: number) => n + 1, 0);
  useEffect(() => {
    if (wanted.current || deferImage || !lazyImage) return;
    // two frames: a scroll's render (and so this effect) runs in the scroll event, before the same frame's
    // animation callbacks; the next frame's scroll event has unmounted the cells the fling has passed
    let frame = requestAnimationFrame(() => {
      frame = requestAnimationFrame(() => {
        wanted.current = true;
        want();
      });
    });
    return () => cancelAnimationFrame(frame);
  }, [deferImage, lazyImage]);

  useEffect(() => {
    const element = img.current;
    // dropping the source cancels a thumbnail still downloading when its row scrolls away
    return () => {
      if (element && !element.complete) element.removeAttribute("src");
    };
  }, []);

  return (
    <div
      className={selected ? "cell selected" : "cell"}
      data-index={index}
      data-sample-id={item.id}
      role="gridcell"
      aria-selected={selected}
      tabIndex={0}
      onClick={(e) => onClick(index, e)}
      onKeyDown={(e) => e.key === "Enter" && onClick(index, e as unknown as React.MouseEvent)}
    >
      <div className="thumb">
        <img
          ref={img}
          src={wanted.current ? thumbUrl(item.id, size) : undefined}
          alt={item.file_name}
          decoding="async"
          draggable={false}
          onLoad={() => onDone(index, "image")}
          onError={() => onDone(index, "image")}
        />
        <button
          type="button"
          className="check"
          aria-label={selected ? "deselect" : "select"}
          onClick={(e) => (e.stopPropagation(), onToggle(index, e))}
        >
          {selected ? "✓" : ""}
        </button>
        {item.tags.length > 0 && (
          <div className="cell-tags">
            {item.tags.slice(0, 3).map((t) => (
              <span key={t} className="tag-chip small">
                <span className="tag-text" title={t}>
                  {t}
                </span>
              </span>
            ))}
            {item.tags.length > 3 && <span className="tag-chip small">+{item.tags.length - 3}</span>}
          </div>
        )}
      </div>
      <div className="caption" title={item.file_name}>
        <span className="caption-name">{item.file_name}</span>
        <span className="caption-count num">{item.annotation_count}</span>
      </div>
    </div>
  );
});
