import { describe, expect, it } from "vitest";
import { dragBox, handlePoint, spanBox } from "./geometry";

describe("dragBox", () => {
  const box: [number, number, number, number] = [10, 20, 100, 50];
  it("moves a box inside the image, keeping its size", () => {
    expect(dragBox(box, "move", 5, -5, 640, 480)).toEqual([15, 15, 100, 50]);
    expect(dragBox(box, "move", 1000, -1000, 640, 480)).toEqual([540, 0, 100, 50]);
  });
  it("resizes from a corner, keeping the opposite corner", () => {
    expect(dragBox(box, "se", 10, 5, 640, 480)).toEqual([10, 20, 110, 55]);
    expect(dragBox(box, "nw", -5, 10, 640, 480)).toEqual([5, 30, 105, 40]);
  });
  it("resizes from an edge along one axis only", () => {
    expect(dragBox(box, "e", 7, 99, 640, 480)).toEqual([10, 20, 107, 50]);
    expect(dragBox(box, "n", 99, -20, 640, 480)).toEqual([10, 0, 100, 70]);
  });
  it("never crosses the opposite edge or leaves the image", () => {
    expect(dragBox(box, "w", 500, 0, 640, 480)).toEqual([109, 20, 1, 50]);
    expect(dragBox(box, "se", 1000, 1000, 640, 480)).toEqual([10, 20, 630, 460]);
  });
});

describe("handles and drawing", () => {
  it("puts handles on the corners and edge midpoints", () => {
    expect(handlePoint([10, 20, 100, 50], "ne")).toEqual([110, 20]);
    expect(handlePoint([10, 20, 100, 50], "s")).toEqual([60, 70]);
  });
  it("spans a box from any two corners, clamped to the image", () => {
    expect(spanBox(50, 60, 10, 20, 640, 480)).toEqual([10, 20, 40, 40]);
    expect(spanBox(-10, 470, 30, 500, 640, 480)).toEqual([0, 470, 30, 10]);
  });
});
