"""Who may see which rows: the one place where a viewer and the page filters become SQL.

Every query that touches member-level rows (metrics, quality results, care gaps, cost, completion,
attribution, risk, settlement) narrows them with `member_scope`, so a provider organization's viewer
can only ever read its own organization's rows, enforced inside the query. The condition names only
columns from this module and binds every value as a parameter; nothing a user types reaches SQL text.
`tests/test_scope.py` fails when another module writes an organization condition of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from vbc.security import NotEntitled, Viewer

# Filters a page or command may apply on top of the viewer's scope (column on member_months).
FILTERS = ("payer", "organization", "tin", "npi")


@dataclass(frozen=True)
class Scope:
    """A condition to append to a WHERE clause (it starts with ' AND ' or is empty) and its bound
    parameters."""

    sql: str
    params: dict

    def where(self) -> str:
        """The condition as a whole WHERE clause (TRUE when unscoped)."""
        return f"WHERE TRUE{self.sql}"


def clean_filters(filters: dict | None) -> dict:
    """The filters that narrow anything (empty values dropped); unknown names are an error."""
    kept = {k: v for k, v in (filters or {}).items() if v}
    unknown = set(kept) - set(FILTERS)
    if unknown:
        raise ValueError(f"cannot filter on {', '.join(sorted(unknown))}; choose from {', '.join(FILTERS)}")
    return kept


def member_scope(viewer: Viewer, filters: dict | None = None, *, alias: str = "") -> Scope:
    """The rows `viewer` may see, narrowed by `filters`, as a condition on columns
    organization / payer / tin / npi (qualified with `alias.` when given).

    An organization's viewer is always limited to its own organization; asking for another
    organization raises NotEntitled (a filter can narrow a scope, never widen or move it).
    """
    filters = clean_filters(filters)
    prefix = f"{alias}." if alias else ""
    sql, params = "", {}
    if viewer.kind == "org":
        asked = filters.pop("organization", None)
        if asked and asked != viewer.organization:
            raise NotEntitled(f"{viewer.organization} may only see its own members")
        sql += f" AND {prefix}organization = $scope_viewer_org"
        params["scope_viewer_org"] = viewer.organization
    for name in FILTERS:
        if name in filters:
            sql += f" AND {prefix}{name} = $scope_{name}"
            params[f"scope_{name}"] = filters[name]
    return Scope(sql, params)


def organization_in_view(viewer: Viewer, organization: str | None = None) -> str | None:
    """The one organization a view is about: the viewer's own, else the chosen one (or None).

    An organization's viewer asking for another organization raises NotEntitled."""
    if viewer.kind == "org":
        if organization and organization != viewer.organization:
            raise NotEntitled(f"{viewer.organization} may only see its own members")
        return viewer.organization
    return organization or None
