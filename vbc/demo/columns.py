"""Arrow columns from integer arrays: the code vocabulary, dates, ids and claim lines, plus the payer
and plan every table names."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vbc.contract import DATE, INTEGER, NUMBER, TABLES

PAYER = "Medicare"
PAYER_TYPE = "medicare"
PLAN = "ACO Demo Plan"
NO_DATE = -99_999_999  # "no date" (birth dates before 1970 are negative day numbers)

_ARROW = {DATE: pa.date32(), NUMBER: pa.float64(), INTEGER: pa.int64()}


# Contract columns a clean demo delivery does not carry (corrections name the claim they replace).
NOT_GENERATED = ("original_claim_id",)


def table_schema(table: str) -> pa.Schema:
    return pa.schema(
        [
            pa.field(c.name, _ARROW.get(c.type, pa.string()))
            for c in TABLES[table].columns
            if c.name not in NOT_GENERATED
        ]
    )


class Vocab:
    """Every code string gets a small integer; columns are built as integer arrays (-1 = null)."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {}
        self.values: list[str] = []

    def __call__(self, s: str) -> int:
        i = self._index.get(s)
        if i is None:
            i = self._index[s] = len(self.values)
            self.values.append(s)
        return i

    def arr(self, seq) -> np.ndarray:
        return np.array([self(s) for s in seq], dtype=np.int32)

    def strings(self, idx: np.ndarray) -> pa.Array:
        idx = np.asarray(idx, dtype=np.int32)
        return pa.array(self.values, pa.string()).take(pa.array(idx, mask=idx < 0))


def date_column(days: np.ndarray) -> pa.Array:
    days = np.asarray(days)
    return pa.array(days.astype(np.int32), type=pa.int32(), mask=days == NO_DATE).view(pa.date32())


def id_column(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    text = pc.utf8_lpad(pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, text, "")


def slot_lines(present: np.ndarray, **cols) -> dict:
    """Lines from a (claims x slots) presence mask; per-slot values as (1, S), per-claim as (C, 1)."""
    ci, si = np.nonzero(present)
    out = {"claim": ci}
    for k, v in cols.items():
        out[k] = np.broadcast_to(np.asarray(v), present.shape)[ci, si]
    return out


def one_line(c: int, **cols) -> dict:
    out = {"claim": np.arange(c)}
    for k, v in cols.items():
        out[k] = np.broadcast_to(np.asarray(v), (c,))
    return out
