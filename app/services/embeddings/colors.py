"""What the embeddings map colours its points by, for every sample of a dataset at once (columnar).

A sample has one value per colouring: its most frequent ground-truth class, its split, its first tag
(alphabetically), its uniqueness, or its TP/FP state in a prediction run's evaluation at IoU 0.5.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from app.db import Database
from app.services.datasets import require

ColorBy = Literal["category", "split", "tag", "uniqueness", "errors"]
NONE = "(none)"

_CATEGORICAL = {
    "category": """
        SELECT s.id, c.name FROM samples s
        LEFT JOIN (
            SELECT sample_id, arg_max(category_id, n) AS category_id FROM (
                SELECT sample_id, category_id, count(*) * 1e9 - category_id AS n FROM annotations
                WHERE dataset_id = ? AND source = 'ground_truth' GROUP BY sample_id, category_id
            ) GROUP BY sample_id
        ) m ON m.sample_id = s.id
        LEFT JOIN categories c ON c.id = m.category_id
        WHERE s.dataset_id = ? ORDER BY s.id
    """,
    "split": "SELECT s.id, s.split FROM samples s WHERE s.dataset_id = ? ORDER BY s.id",
    "tag": """
        SELECT s.id, t.tag FROM samples s
        LEFT JOIN (SELECT sample_id, min(tag) AS tag FROM sample_tags WHERE dataset_id = ? GROUP BY sample_id) t
            ON t.sample_id = s.id
        WHERE s.dataset_id = ? ORDER BY s.id
    """,
    "errors": """
        SELECT s.id, CASE WHEN e.sample_id IS NULL THEN NULL
            WHEN e.fp > 0 AND e.fn > 0 THEN 'FP and FN' WHEN e.fp > 0 THEN 'FP' WHEN e.fn > 0 THEN 'FN'
            WHEN e.tp > 0 THEN 'TP only' ELSE 'no boxes' END
        FROM samples s
        LEFT JOIN eval_images e ON e.sample_id = s.id AND e.dataset_id = s.dataset_id AND e.run = ? AND e.iou = 0.5
        WHERE s.dataset_id = ? ORDER BY s.id
    """,
}


def colors(db: Database, dataset_id: int, by: ColorBy, run: str | None = None) -> dict[str, Any]:
    """`ids` ascending; categorical: `labels` and a `codes` index per sample; uniqueness: `values` (null = none)."""
    with db.cursor() as cur:
        require(cur, dataset_id)
        if by == "uniqueness":
            got = cur.execute(
                "SELECT s.id, max(u.uniqueness) AS v FROM samples s LEFT JOIN sample_uniqueness u "
                "ON u.sample_id = s.id AND u.dataset_id = s.dataset_id WHERE s.dataset_id = ? GROUP BY s.id "
                "ORDER BY s.id",
                [dataset_id],
            ).fetchnumpy()
            values = [None if v != v else round(float(v), 5) for v in np.asarray(got["v"], dtype=np.float64)]
            return {"by": by, "ids": got["id"].tolist(), "labels": [], "codes": [], "values": values}
        params: list[Any] = {"split": [dataset_id], "errors": [run, dataset_id]}.get(by, [dataset_id, dataset_id])
        rows = cur.execute(_CATEGORICAL[by], params).fetchall()
    names = [NONE if r[1] is None else str(r[1]) for r in rows]
    labels = sorted(set(names) - {NONE}) + ([NONE] if NONE in names else [])
    code = {name: i for i, name in enumerate(labels)}
    return {"by": by, "ids": [r[0] for r in rows], "labels": labels, "codes": [code[n] for n in names], "values": []}
