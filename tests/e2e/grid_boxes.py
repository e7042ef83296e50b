"""The boxes the grid drew: each row draws its cells' boxes on one canvas and lists them in its `data-boxes`
(per sample: the image square's corner in the canvas, and each box's rectangle in it, in CSS px, with the colour
the canvas resolved). The tests check these against the API, and the screen's pixels against the colours."""

from __future__ import annotations

# sample id -> boxes drawn, rectangles in viewport CSS px, and the canvas' alpha on each one's left edge
_DRAWN = """() => {
  const out = {};
  for (const canvas of document.querySelectorAll('.grid-row canvas.row-boxes:not([hidden])')) {
    const at = canvas.getBoundingClientRect();
    const px = canvas.getContext('2d');
    const dpr = canvas.width / at.width;
    // the canvas' own pixel on the middle of the box's left edge: something was drawn there
    const alpha = (x, y) => px.getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data[3];
    for (const cell of JSON.parse(canvas.dataset.boxes || '[]'))
      out[cell.sample] = cell.boxes.map((b) => ({...b,
        rect: [at.x + cell.left + b.rect[0], at.y + cell.top + b.rect[1], b.rect[2], b.rect[3]],
        edge_alpha: alpha(cell.left + b.rect[0], cell.top + b.rect[1] + b.rect[3] / 2)}));
  }
  return out;
}"""
# how many boxes of `source` (all if null) are drawn, lit only if asked
_COUNT = """([source, lit]) => {
  let n = 0;
  for (const canvas of document.querySelectorAll('.grid-row canvas.row-boxes:not([hidden])'))
    for (const cell of JSON.parse(canvas.dataset.boxes || '[]'))
      n += cell.boxes.filter((b) => (source === null || b.source === source) && (!lit || b.lit)).length;
  return n;
}"""


def drawn_boxes(page) -> dict[int, list[dict]]:  # noqa: ANN001
    return {int(k): v for k, v in page.evaluate(_DRAWN).items()}


def wait_drawn(page, n: int, source: str | None = None, lit: bool = False, timeout: float = 60_000) -> None:  # noqa: ANN001
    """Until exactly `n` boxes (of `source`, lit if `lit`) are drawn in the grid."""
    page.wait_for_function(f"(a) => ({_COUNT})(a.slice(0, 2)) === a[2]", arg=[source, lit, n], timeout=timeout)


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
