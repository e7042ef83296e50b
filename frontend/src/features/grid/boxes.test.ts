import { describe, expect, it } from "vitest";
import type { PageBox } from "@/lib/api/page-boxes";
import { labelAt, layoutBoxes, visibleBoxes } from "./boxes";

const box = (id: number, bbox: number[], source = "ground_truth", confidence: number | null = null): PageBox => ({
  id,
  category_id: 1,
  category: "cat",
  bbox,
  source,
  confidence,
  iscrowd: false,
});

describe("layoutBoxes", () => {
  it("letterboxes a wide image in the square as object-fit: contain does", () => {
    // 400 x 200 in 100 px: scale 0.25, 25 px bands above and below
    const [b] = layoutBoxes(400, 200, 100, [box(1, [40, 20, 80, 40])], false);
    expect(b.rect).toEqual([10, 30, 20, 10]);
    expect(b.label).toBeNull();
  });

  it("draws larger boxes first, predictions dashed with their confidence, and lights the highlighted", () => {
    const out = layoutBoxes(100, 100, 100, [box(1, [0, 0, 10, 10]), box(2, [0, 0, 50, 50], "det", 0.5)], true, new Set([1]));
    expect(out.map((b) => b.id)).toEqual([2, 1]);
    expect(out[0]).toMatchObject({ dashed: true, lit: false, label: "cat 0.50" });
    expect(out[1]).toMatchObject({ dashed: false, lit: true, label: "cat" });
  });

  it("puts ground-truth labels above the box when there is room, predictions inside its bottom edge", () => {
    const [high, low] = layoutBoxes(100, 100, 100, [box(1, [10, 5, 20, 20]), box(2, [10, 50, 10, 10])], true).sort((a, b) => a.id - b.id);
    expect(labelAt(high)[1]).toBeGreaterThan(5); // no room above: inside
    expect(labelAt(low)[1]).toBeLessThan(50); // above
    const [pred] = layoutBoxes(100, 100, 100, [box(3, [10, 50, 20, 20], "det", 0.9)], true);
    expect(labelAt(pred)[1]).toBeGreaterThan(60);
  });
});

describe("visibleBoxes", () => {
  it("keeps ground truth when shown and predictions of the shown runs over the threshold", () => {
    const boxes = [box(1, [0, 0, 1, 1]), box(2, [0, 0, 1, 1], "a", 0.2), box(3, [0, 0, 1, 1], "a", 0.8), box(4, [0, 0, 1, 1], "b", 0.9)];
    expect(visibleBoxes(boxes, { gt: true, runs: ["a"], conf: 0.5, labels: true }).map((b) => b.id)).toEqual([1, 3]);
    expect(visibleBoxes(boxes, { gt: false, runs: ["a", "b"], conf: 0, labels: true }).map((b) => b.id)).toEqual([2, 3, 4]);
  });
});
