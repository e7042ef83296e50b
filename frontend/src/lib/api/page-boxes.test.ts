import { describe, expect, it } from "vitest";
import { decodePage } from "./page-boxes";
import type { SamplesPage } from "./types";

const item = (id: number) => ({ id, file_name: `${id}.jpg`, width: 10, height: 10, split: null, tags: [], annotation_count: 0 });

describe("decodePage", () => {
  it("deals the columns out to the items, in order", () => {
    const page: SamplesPage = {
      total: 3,
      offset: 0,
      limit: 3,
      items: [item(7), item(8), item(9)],
      boxes: {
        sources: ["ground_truth", "det"],
        categories: [{ id: 2, name: "dog" }, { id: 1, name: "cat" }],
        item: [0, 0, 2],
        id: [11, 12, 13],
        category_id: [1, 2, 2],
        source: [0, 1, 0],
        bbox: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
        confidence: [null, 0.5, null],
        crowd: [false, false, true],
      },
    };
    const out = decodePage(page);
    expect(out.items.map((i) => i.boxes.map((b) => b.id))).toEqual([[11, 12], [], [13]]);
    expect(out.items[0].boxes[1]).toEqual({ id: 12, category_id: 2, category: "dog", bbox: [4, 5, 6, 7], source: "det", confidence: 0.5, iscrowd: false });
    expect(out.items[2].boxes[0]).toMatchObject({ category: "dog", bbox: [8, 9, 10, 11], source: "ground_truth", confidence: null, iscrowd: true });
  });

  it("gives every item an empty list when the page has no boxes", () => {
    const out = decodePage({ total: 1, offset: 0, limit: 1, items: [item(1)], boxes: null });
    expect(out.items[0].boxes).toEqual([]);
  });
});
