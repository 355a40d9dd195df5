"""Who may see which rows is decided in one place, vbc/scope.py, and tested here once, thoroughly.

The source test fails when any other module of vbc/ or pages/ (or dashboard.py) writes an
organization condition into SQL text of its own: such a condition would not be checked against
the viewer's entitlement and would be one more place to get wrong.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from vbc.scope import FILTERS, Scope, clean_filters, member_scope, organization_in_view
from vbc.security import NotEntitled, Viewer

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(ROOT / "vbc").rglob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "dashboard.py"])
ALLOWED = {ROOT / "vbc" / "scope.py"}

# An organization compared in SQL text, in the spellings SQL has and Python does not: against a bound
# parameter anywhere (`organization = $org`, `= ?`, `= :org`), or after WHERE/AND/OR/ON (`AND
# m.organization = '...'`, `WHERE organization IN (...)`). Python's `==`, `in` and assignments do not match.
ORG_CONDITION = re.compile(
    r"""(?i:\borganization)\s*(?:=|<>)\s*[\$\?:]"""
    r"""|(?i:\b(?:where|and|or|on))\s+(?:\w+\.)?(?i:organization)\s*(?:=(?!=)|<>|\bIN\b|\bLIKE\b)"""
)
# The viewer's organization pasted into SQL text (an f-string that reads like SQL).
VIEWER_ORG_IN_SQL = re.compile(r"""\b(SELECT|WHERE|AND|JOIN)\b[^\n]*\{[^}]*viewer\.organization""")


def offenders(path: Path, root: Path = ROOT) -> list[str]:
    found = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        code = line.split("#", 1)[0]
        if ORG_CONDITION.search(code) or VIEWER_ORG_IN_SQL.search(code):
            found.append(f"{path.relative_to(root)}:{n}: {line.strip()}")
    return found


def test_only_the_scope_module_writes_an_organization_condition():
    found = [hit for path in SOURCES if path not in ALLOWED for hit in offenders(path)]
    assert not found, (
        "organization conditions written outside vbc/scope.py (use vbc.scope.member_scope(viewer, "
        "{'organization': ...}) so the viewer's entitlement is checked):\n" + "\n".join(found)
    )


@pytest.mark.parametrize(
    "line",
    [
        'con.execute("SELECT * FROM mm WHERE organization = $org", {"org": o})',
        "sql = f\"... AND m.organization='{org}'\"",
        'q = "SELECT 1 FROM t WHERE organization IN (SELECT 1)"',
        'q = f"SELECT * FROM mm WHERE npi = 1 AND x = {viewer.organization}"',
        'q = "... where Organization = :org"',
    ],
)
def test_the_source_test_catches_the_usual_spellings(tmp_path, line):
    f = tmp_path / "mod.py"
    f.write_text(line + "\n")
    assert len(offenders_at(f)) == 1


def offenders_at(path: Path) -> list[str]:
    return offenders(path, root=path.parent)


def test_ordinary_python_is_not_mistaken_for_sql(tmp_path):
    f = tmp_path / "mod.py"
    f.write_text(
        "organization = None\n"
        "x = dict(organization=org)\n"
        "if t.provider_organization == org: pass\n"
        "df.assign(organization=df['organization'])\n"
        "# organization = $org in a comment\n"
        "if viewer.organization != terms.provider_organization and organization in (None, ALL): pass\n"
        "self.organization = organization\n"
    )
    assert offenders_at(f) == []


# ------------------------------------------------------------------ member_scope, once, thoroughly
ROWS = [
    ("Alpha Care", "Medicare", "T1", "N1"),
    ("Alpha Care", "Commercial", "T1", "N1"),
    ("Beta Health", "Medicare", "T2", "N2"),
    ("Beta Health", "Medicare", "T3", "N3"),
    (None, "Medicare", "T9", "N4"),
]


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    c.execute("CREATE TABLE member_months (organization VARCHAR, payer VARCHAR, tin VARCHAR, npi VARCHAR)")
    c.executemany("INSERT INTO member_months VALUES (?, ?, ?, ?)", ROWS)
    yield c
    c.close()


def rows_in(con, scope: Scope, alias: str = "") -> list[tuple]:
    table = f"member_months {alias}" if alias else "member_months"
    return sorted(con.execute(f"SELECT * FROM {table} {scope.where()}", scope.params).fetchall(), key=str)


def test_payer_and_joint_see_every_organization(con):
    for viewer in (Viewer("payer"), Viewer("joint")):
        scope = member_scope(viewer)
        assert (scope.sql, scope.params) == ("", {})
        assert len(rows_in(con, scope)) == len(ROWS)


def test_an_organization_sees_only_its_own_rows(con):
    scope = member_scope(Viewer("org", "Beta Health"))
    assert scope.params == {"scope_viewer_org": "Beta Health"}
    assert {r[0] for r in rows_in(con, scope)} == {"Beta Health"}


@pytest.mark.parametrize(
    "viewer,filters,expected",
    [
        (Viewer("payer"), {"organization": "Alpha Care"}, 2),
        (Viewer("payer"), {"organization": "Alpha Care", "payer": "Medicare"}, 1),
        (Viewer("joint"), {"payer": "Medicare"}, 4),
        (Viewer("org", "Beta Health"), {"tin": "T3"}, 1),
        (Viewer("org", "Beta Health"), {"organization": "Beta Health", "npi": "N2"}, 1),
        (Viewer("org", "Beta Health"), {"payer": "Commercial"}, 0),
        (Viewer("payer"), {"organization": None, "payer": ""}, 5),  # empty filters narrow nothing
    ],
)
def test_filters_narrow_and_never_widen(con, viewer, filters, expected):
    got = rows_in(con, member_scope(viewer, filters))
    assert len(got) == expected
    if viewer.kind == "org":
        assert {r[0] for r in got} <= {viewer.organization}


def test_an_organization_asking_for_another_is_refused():
    with pytest.raises(NotEntitled):
        member_scope(Viewer("org", "Beta Health"), {"organization": "Alpha Care"})
    with pytest.raises(NotEntitled):
        organization_in_view(Viewer("org", "Beta Health"), "Alpha Care")
    assert organization_in_view(Viewer("org", "Beta Health")) == "Beta Health"
    assert organization_in_view(Viewer("payer"), "Alpha Care") == "Alpha Care"
    assert organization_in_view(Viewer("joint")) is None


def test_values_are_bound_parameters_never_sql_text(con):
    hostile = "x' OR '1'='1"
    scope = member_scope(Viewer("org", hostile), {"payer": hostile, "tin": hostile, "npi": hostile})
    assert hostile not in scope.sql and "'" not in scope.sql
    assert set(scope.params.values()) == {hostile}
    assert rows_in(con, scope) == []
    payer = member_scope(Viewer("payer"), {"organization": hostile})
    assert hostile not in payer.sql and rows_in(con, payer) == []


def test_alias_qualifies_every_column(con):
    scope = member_scope(Viewer("org", "Alpha Care"), {"payer": "Medicare", "tin": "T1"}, alias="m")
    assert scope.sql.count("m.") == 3
    assert rows_in(con, scope, alias="m") == [("Alpha Care", "Medicare", "T1", "N1")]


def test_unknown_filters_are_an_error():
    with pytest.raises(ValueError, match="cannot filter on plan"):
        clean_filters({"plan": "ACO"})
    assert set(FILTERS) == {"payer", "organization", "tin", "npi"}
