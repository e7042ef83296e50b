"""Versioned schema. Append a migration to change the schema; never edit one that has shipped.

Each migration is (version, [statements]) and runs in one transaction; `schema_version` records it.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        1,
        [
            """
            CREATE TABLE jobs (
                id          VARCHAR PRIMARY KEY,
                kind        VARCHAR NOT NULL,
                state       VARCHAR NOT NULL,
                dataset_id  BIGINT,
                done        BIGINT NOT NULL DEFAULT 0,
                total       BIGINT,
                message     VARCHAR,
                error       VARCHAR,
                params      JSON,
                created_at  TIMESTAMP NOT NULL,
                started_at  TIMESTAMP,
                finished_at TIMESTAMP
            )
            """,
        ],
    ),
]

SCHEMA_VERSION = MIGRATIONS[-1][0]
