import { describe, expect, it } from "vitest";
import { categoryColor, hashName } from "./colors";

describe("categoryColor", () => {
  it("is a pure function of the name", () => {
    expect(categoryColor("person")).toBe(categoryColor("person"));
    expect(categoryColor("person")).toMatch(/^hsl\(\d+ 85% (55|65)%\)$/);
  });
  it("does not depend on which other categories exist or their order", () => {
    const a = ["cat", "dog", "bird"].map(categoryColor);
    const b = ["bird", "zebra", "dog", "cat"].map(categoryColor);
    expect(a).toEqual([b[3], b[2], b[0]]);
  });
  it("pins known values so a change of the palette is deliberate", () => {
    expect(hashName("")).toBe(0x811c9dc5);
    expect(hashName("a")).toBe(0xe40c292c); // FNV-1a reference value
    expect(categoryColor("cat")).toBe(categoryColor("cat"));
  });
  it("spreads common class names over distinct colours", () => {
    const names = ["person", "car", "dog", "cat", "bicycle", "bus", "truck", "bird", "horse", "boat"];
    const colours = new Set(names.map(categoryColor));
    expect(colours.size).toBe(names.length);
  });
});
