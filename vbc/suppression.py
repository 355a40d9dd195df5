"""Small-cell suppression for the joint (de-identified) view, consistent across tables.

CMS's cell-size rule: no displayed count from 1 to 10, and none that can be derived from other
displayed cells, percentages or totals. A joint viewer sees the same numbers cut several ways
(overall, by organization, by TIN or PCP, by month, and their combinations), so a hidden cell can be
worked out from a total shown in another table: an organization's year minus its shown months gives
the hidden months' sum. The rule used here:

1. Primary: a cell whose count of people (or events, or a proportion's numerator, denominator or
   their difference) is from 1 to 10 is hidden.
2. Complementary, across the hierarchy: for every line of a table whose total is shown somewhere
   (the table's margins — each grouping with one dimension left out — and a TIN's or PCP's
   organization), the hidden cells of the line must not be one alone, and the sum of each of their
   counts must be 0 or more than 10; otherwise the smallest shown cell of the line is hidden too,
   and the check repeats until every line passes.
Totals are always shown; hiding more cells, never fewer, is the price of consistency.
"""

from __future__ import annotations

import pandas as pd

from vbc.security import is_small


def _lines(df: pd.DataFrame, keys: list[str]) -> list[list]:
    if not keys:
        return [list(df.index)]
    return [list(idx) for idx in df.groupby(keys if len(keys) > 1 else keys[0], dropna=False).groups.values()]


def _exposed(df: pd.DataFrame, idx: list, hidden: pd.Series, counts: list[str]) -> bool:
    h = hidden[idx]
    if not h.any() or h.all():
        return False
    if h.sum() == 1:
        return True
    rows = df.loc[idx][h.to_numpy()]
    return any(is_small(rows[c].fillna(0).sum()) for c in counts)


def suppress(
    df: pd.DataFrame, lines: list[list[str]], counts: list[str], primary: pd.Series, order: str
) -> pd.Series:
    """Which cells to hide: the primary ones and whatever more keeps every line's hidden sum from
    being a count of 1 to 10. `lines` are the groupings whose totals are shown elsewhere; `order`
    the column whose smallest non-zero shown cell is hidden next."""
    hidden = primary.astype(bool).copy()
    changed = True
    while changed:
        changed = False
        for keys in lines:
            for idx in _lines(df, keys):
                if not _exposed(df, idx, hidden, counts):
                    continue
                shown = df.loc[idx][~hidden[idx].to_numpy()]
                nonzero = shown[shown[order].fillna(0) > 0]
                pick = (nonzero if len(nonzero) else shown)[order].fillna(0).idxmin()
                hidden[pick] = True
                changed = True
    return hidden


def margins(by: list[str], parents: list[str] = ()) -> list[list[str]]:
    """The lines of a table grouped `by` whose totals another table shows: each grouping with one
    dimension left out, and for a nested dimension (a TIN within its organization) its parent."""
    lines = [[b for b in by if b != dim] for dim in by]
    for parent in parents:
        for dim in by:
            lines.append([parent, *[b for b in by if b != dim]])
    return lines


def blank(df: pd.DataFrame, hidden: pd.Series, columns: list[str]) -> pd.DataFrame:
    """The figures of hidden cells emptied (NaN), so no export or page can show them."""
    df[columns] = df[columns].astype("float64")
    df.loc[hidden.to_numpy(), columns] = float("nan")
    return df
