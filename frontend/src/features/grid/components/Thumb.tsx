import { memo, useEffect, useRef } from "react";
import { BoxOverlay, type OverlayBox } from "@/components/BoxOverlay";
import { imageUrl } from "@/lib/api/client";
import type { PageBox, PageItem } from "@/lib/api/page-boxes";

export interface BoxDisplay {
  gt: boolean;
  runs: string[];
  conf: number;
  labels: boolean;
}

export function visibleBoxes(boxes: PageBox[], display: BoxDisplay): OverlayBox[] {
  return boxes.filter((b) =>
    b.source === "ground_truth" ? display.gt : display.runs.includes(b.source) && (b.confidence ?? 1) >= display.conf,
  );
}

function thumbSize(edge: number): "small" | "medium" | "large" {
  const px = edge * (window.devicePixelRatio || 1);
  return px <= 128 ? "small" : px <= 256 ? "medium" : "large";
}

interface Props {
  item: PageItem;
  index: number;
  size: number;
  display: BoxDisplay;
  selected: boolean;
  /** box ids drawn lit (the evaluation view's click-through) */
  highlighted?: ReadonlySet<number>;
  onClick: (index: number, event: React.MouseEvent) => void;
  onToggle: (index: number, event: React.MouseEvent) => void;
  onDone: (index: number) => void;
}

export const Thumb = memo(function Thumb({ item, index, size, display, selected, highlighted, onClick, onToggle, onDone }: Props) {
  const img = useRef<HTMLImageElement>(null);
  // the page's own boxes (boxes=true): never a request per cell
  const shown = visibleBoxes(item.boxes, display);
  const known = Boolean(item.width && item.height);
  const scale = known ? Math.min(size / (item.width as number), size / (item.height as number)) : 1;

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
          src={imageUrl(item.id, thumbSize(size))}
          alt={item.file_name}
          decoding="async"
          draggable={false}
          onLoad={() => onDone(index)}
          onError={() => onDone(index)}
        />
        {known && <BoxOverlay width={item.width as number} height={item.height as number} boxes={shown} scale={scale} labels={display.labels} highlighted={highlighted} />}
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
                {t}
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
