import { describe, expect, it } from "vitest";
import { DEFAULT_VIEW, fromFilters, parseViewState, serializeViewState, toFilters, updateView, type ViewState } from "./url-state";

describe("URL state", () => {
  it("the default view is the bare URL", () => {
    expect(serializeViewState(DEFAULT_VIEW)).toBe("");
    expect(parseViewState("")).toEqual(DEFAULT_VIEW);
  });

  it("round-trips every field", () => {
    const s: ViewState = {
      split: "val",
      category: "traffic light",
      tags: ["reviewed", "a&b=c"],
      search: "img_0",
      minBoxes: 1,
      maxBoxes: 12,
      review: "needs_fix",
      run: "yolo v8",
      hasFp: true,
      hasFn: false,
      iou: 0.75,
      actual: "background",
      predicted: "dog & cat",
      error: "missed",
      selection: 42,
      sort: "errors",
      dir: "desc",
      gt: false,
      show: ["yolo v8", "detr"],
      conf: 0.35,
      labels: false,
      size: 260,
      open: 17,
      sid: 99,
    };
    const url = serializeViewState(s);
    expect(parseViewState(url)).toEqual(s);
    expect(serializeViewState(parseViewState(url))).toBe(url);
  });

  it("writes keys in a fixed order so equal views have equal URLs", () => {
    const a = serializeViewState({ ...DEFAULT_VIEW, category: "cat", split: "train" });
    const b = serializeViewState({ ...DEFAULT_VIEW, split: "train", category: "cat" });
    expect(a).toBe(b);
    expect(a).toBe("split=train&category=cat");
  });

  it("ignores malformed values instead of failing", () => {
    const s = parseViewState("min=-3&max=abc&conf=7&size=99999&open=x&dir=sideways&fp=1&tag=&tag=a&tag=a");
    expect(s.minBoxes).toBeUndefined();
    expect(s.maxBoxes).toBeUndefined();
    expect(s.conf).toBe(0);
    expect(s.size).toBe(340);
    expect(s.open).toBeUndefined();
    expect(s.dir).toBeUndefined();
    expect(s.hasFp).toBeUndefined(); // has-FP needs a run
    expect(s.tags).toEqual(["a"]);
  });

  it("snaps a thumbnail size off the size menu to the nearest one it lists", () => {
    // the menu shows the size the grid draws at: size=150 drew 150 px cells under a menu reading 120px
    expect(parseViewState("size=150").size).toBe(160);
    expect(parseViewState("size=300").size).toBe(260);
    expect(parseViewState("size=1").size).toBe(120);
    expect(parseViewState("size=340").size).toBe(340);
  });

  it("a filter change closes the sample view, a display change keeps it", () => {
    const open = { ...DEFAULT_VIEW, open: 4 };
    expect(updateView(open, { category: "dog" }).open).toBeUndefined();
    expect(updateView(open, { sort: "file_name" }).open).toBeUndefined();
    expect(updateView(open, { labels: false }).open).toBe(4);
    expect(updateView(open, { open: 5 }).open).toBe(5);
  });

  it("dropping the run drops has-FP/has-FN", () => {
    const s = updateView({ ...DEFAULT_VIEW, run: "r", hasFp: true }, { run: undefined });
    expect(s.hasFp).toBeUndefined();
    expect(toFilters(s)).toEqual({});
  });

  it("excluded tags: in the URL, in the filters and back", () => {
    const view = updateView(DEFAULT_VIEW, { xtags: ["duplicate", "blurry", "duplicate"] });
    const url = serializeViewState(view);
    expect(url).toBe("xtag=duplicate&xtag=blurry");
    const back = parseViewState(url);
    expect(back.xtags).toEqual(["duplicate", "blurry"]);
    expect(toFilters(back).exclude_tag).toEqual(["duplicate", "blurry"]);
    expect(fromFilters(DEFAULT_VIEW, { exclude_tag: ["duplicate"] }).xtags).toEqual(["duplicate"]);
    expect(updateView(back, { xtags: [] }).xtags).toBeUndefined();
    expect(serializeViewState(updateView(back, { xtags: [] }))).toBe("");
  });

  it("maps to the backend's filters and back (saved views)", () => {
    const s = parseViewState("split=train&tag=x&q=abc&min=2&run=r&fn=1&sort=worst&size=120");
    const f = toFilters(s);
    expect(f).toEqual({ split: "train", tag: ["x"], search: "abc", min_annotations: 2, eval_run: "r", has_fn: true });
    const back = fromFilters({ ...DEFAULT_VIEW, category: "old", sort: "worst", size: 120 }, JSON.parse(JSON.stringify(f)));
    expect(back).toEqual({ ...s });
  });
  it("a confusion cell needs a run and both ends; it reaches the filters", () => {
    expect(parseViewState("actual=cat&predicted=dog")).toEqual(DEFAULT_VIEW);
    expect(parseViewState("run=r&actual=cat").actual).toBeUndefined();
    const s = parseViewState("run=r&iou=0.75&actual=cat&predicted=background&error=missed");
    expect(toFilters(s)).toEqual({ eval_run: "r", eval_iou: 0.75, eval_actual: "cat", eval_predicted: "background", eval_error: "missed" });
    const cleared = updateView({ ...s, open: 3 }, { run: undefined });
    expect([cleared.iou, cleared.actual, cleared.predicted, cleared.error, cleared.open]).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(fromFilters(DEFAULT_VIEW, { ...toFilters(s) } as Record<string, unknown>)).toEqual({ ...DEFAULT_VIEW, run: "r", iou: 0.75, actual: "cat", predicted: "background", error: "missed" });
  });
});
