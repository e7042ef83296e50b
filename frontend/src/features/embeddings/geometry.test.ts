import { describe, expect, it } from "vitest";
import { alignIds, fitTransform, nearest, packRgb, pointsInBox, pointsInPolygon, zoomAt } from "./geometry";

const xs = Float32Array.from([0, 1, 2, 10, 11]);
const ys = Float32Array.from([0, 1, 0, 10, 11]);

describe("map geometry", () => {
  it("fits every point into the canvas", () => {
    const t = fitTransform(xs, ys, 200, 100);
    for (let i = 0; i < xs.length; i++) {
      const sx = xs[i] * t.scale + t.tx, sy = t.ty - ys[i] * t.scale;
      expect(sx).toBeGreaterThanOrEqual(0);
      expect(sx).toBeLessThanOrEqual(200);
      expect(sy).toBeGreaterThanOrEqual(0);
      expect(sy).toBeLessThanOrEqual(100);
    }
  });

  it("lasso and box select exactly the points inside, at any zoom", () => {
    let t = { scale: 10, tx: 5, ty: 200 };
    const screen = (x: number, y: number) => [x * t.scale + t.tx, t.ty - y * t.scale] as [number, number];
    const around = [screen(-1, -1), screen(3, -1), screen(3, 2), screen(-1, 2)];
    expect([...pointsInPolygon(xs, ys, t, around)]).toEqual([0, 1, 2]);
    // a concave lasso leaving out the middle point
    const notch = [screen(-1, -1), screen(3, -1), screen(3, 2), screen(1, 0.5), screen(-1, 2)];
    expect([...pointsInPolygon(xs, ys, t, notch)]).toEqual([0, 2]);
    t = zoomAt(t, 50, 50, 3);
    expect([...pointsInBox(xs, ys, t, screen(9, 9), screen(12, 12))]).toEqual([3, 4]);
    expect(nearest(xs, ys, t, ...screen(10.05, 10), 5)).toBe(3);
    expect(nearest(xs, ys, t, ...screen(5, 5), 5)).toBe(-1);
  });

  it("aligns colour rows with the projection's ids and packs RGBA little-endian", () => {
    expect([...alignIds(Float64Array.from([2, 5, 9]), [1, 2, 3, 5, 8])]).toEqual([1, 3, -1]);
    const bytes = new Uint8Array(Uint32Array.from([packRgb(1, 2, 3)]).buffer);
    expect([...bytes]).toEqual([1, 2, 3, 255]);
  });
});
