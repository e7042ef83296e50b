// A samples page's boxes arrive as per-page columns (PageBoxes: one entry per box in each list, far
// cheaper to encode and parse than one object per box); the views draw them per sample.
import type { SampleItem, SamplesPage } from "./types";

export interface PageBox {
  id: number;
  category_id: number;
  category: string;
  /** [x, y, w, h] in image pixels */
  bbox: number[];
  source: string;
  confidence: number | null;
  iscrowd: boolean;
}

export type PageItem = SampleItem & { boxes: PageBox[] };
export interface DecodedPage {
  total: number;
  offset: number;
  limit: number;
  items: PageItem[];
}

/** Deal a page's box columns out to its items (items of a page asked without boxes get none). */
export function decodePage(page: SamplesPage): DecodedPage {
  const items: PageItem[] = page.items.map((item) => ({ ...item, boxes: [] }));
  const cols = page.boxes;
  if (cols) {
    const names = new Map(cols.categories.map((c) => [c.id, c.name]));
    for (let k = 0; k < cols.id.length; k++) {
      const category_id = cols.category_id[k];
      items[cols.item[k]]?.boxes.push({
        id: cols.id[k],
        category_id,
        category: names.get(category_id) ?? String(category_id),
        bbox: cols.bbox.slice(4 * k, 4 * k + 4),
        source: cols.sources[cols.source[k]],
        confidence: cols.confidence[k] ?? null,
        iscrowd: cols.crowd[k],
      });
    }
  }
  return { total: page.total, offset: page.offset, limit: page.limit, items };
}
