"""Attribution of members to a TIN and NPI, the way MSSP assignment works.

Step 1: the TIN with the plurality of allowed charges for primary care services billed by primary
care clinicians over the assignment window, then the NPI with the plurality within that TIN.
Step 2 (no step-1 services): the same over specialists. Ties go to the most recent service.
A payer-supplied provider_attribution extract, when present, replaces the computation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from vbc import serving, suppression
from vbc.periods import add_months, month_end, month_range
from vbc.scope import member_scope
from vbc.security import Viewer, is_small, require_member_level
from vbc.valuesets import load_value_set

PRIMARY_CARE_SPECIALTIES = (
    "internal medicine",
    "family practice",
    "family medicine",
    "general practice",
    "geriatric medicine",
    "pediatric medicine",
    "nurse practitioner",
    "physician assistant",
    "clinical nurse specialist",
)
# Roster entries that bill as organizations, not clinicians; they never take step 2.
NON_CLINICIAN_SPECIALTIES = (
    "acute care hospital",
    "skilled nursing facility",
    "home health agency",
    "hospice",
    "dme supplier",
    "laboratory",
    "ambulance",
    "pharmacy",
)


@dataclass(frozen=True)
class AttributionSettings:
    window_months: int = 12  # 12 or 24
    mode: str = "retrospective"  # or "prospective"

    def __post_init__(self) -> None:
        if self.window_months not in (12, 24):
            raise ValueError("attribution window_months must be 12 or 24")
        if self.mode not in ("retrospective", "prospective"):
            raise ValueError("attribution mode must be 'retrospective' or 'prospective'")


QUALIFYING_LINES_SQL = """
    SELECT c.person_id, c.payer, c.claim_id, c.claim_line_number, c.claim_start_date,
           c.hcpcs_code, c.rendering_npi AS npi, p.provider_name, p.specialty, p.tin,
           p.provider_organization AS organization, coalesce(c.allowed_amount, c.paid_amount) AS allowed,
           CASE WHEN lower(p.specialty) IN (SELECT specialty FROM pc_specialties) THEN 1 ELSE 2 END AS step
    FROM medical_claim c
    JOIN provider p ON p.npi = c.rendering_npi
    WHERE c.claim_type = 'professional'
      AND c.hcpcs_code IN (SELECT code FROM pc_codes)
      AND lower(coalesce(p.specialty, '')) NOT IN (SELECT specialty FROM non_clinicians)
      AND p.tin IS NOT NULL
"""


def _pick_sql(services: str, key: str, n: str = "count(*)") -> str:
    """The MSSP pick over a table of qualifying services partitioned by `key` (a year or an as-of
    month): the lowest step with services, then the TIN with the most allowed dollars (ties: the most
    recent service, then the TIN's code), then the NPI within that TIN the same way. Allowed dollars
    are compared to the cent."""
    return f"""
    WITH by_tin AS (
        SELECT {key}, person_id, payer, step, tin, round(sum(allowed), 2) AS tin_allowed,
               max(claim_start_date) AS tin_last, {n} AS tin_services
        FROM {services} GROUP BY ALL
    ), tin_rank AS (
        SELECT tin, row_number() OVER (ORDER BY tin) AS r FROM (SELECT DISTINCT tin FROM by_tin)
    ), tin_pick AS (
        SELECT {key}, person_id, payer,
               arg_max({{'step': step, 'tin': tin, 'allowed': tin_allowed, 'last': tin_last,
                         'services': tin_services}},
                       {{'s': -step, 'a': tin_allowed, 'l': tin_last, 'r': -r}}) AS p
        FROM by_tin JOIN tin_rank USING (tin) GROUP BY ALL
    ), tin_stats AS (
        SELECT t.{key}, t.person_id, t.payer, count(*) AS competing_tins,
               count(*) FILTER (WHERE b.tin_allowed = t.p.allowed) AS tied_tins
        FROM tin_pick t JOIN by_tin b
          ON b.{key} = t.{key} AND b.person_id = t.person_id AND b.payer = t.payer AND b.step = t.p.step
        GROUP BY ALL
    ), by_npi AS (
        SELECT s.{key}, s.person_id, s.payer, s.npi, any_value(s.organization) AS organization,
               round(sum(s.allowed), 2) AS npi_allowed, max(s.claim_start_date) AS npi_last
        FROM {services} s JOIN tin_pick t
          ON s.{key} = t.{key} AND s.person_id = t.person_id AND s.payer = t.payer
         AND s.step = t.p.step AND s.tin = t.p.tin
        GROUP BY ALL
    ), npi_rank AS (
        SELECT npi, row_number() OVER (ORDER BY npi) AS r FROM (SELECT DISTINCT npi FROM by_npi)
    ), npi_pick AS (
        SELECT {key}, person_id, payer,
               arg_max({{'npi': npi, 'organization': organization, 'allowed': npi_allowed}},
                       {{'a': npi_allowed, 'l': npi_last, 'r': -r}}) AS p,
               max(npi_allowed) AS max_npi, list(npi_allowed) AS npi_amounts
        FROM by_npi JOIN npi_rank USING (npi) GROUP BY ALL
    )
    SELECT t.{key}, t.person_id, t.payer, t.p.step AS step, t.p.tin AS tin, n.p.npi AS npi,
           n.p.organization AS organization, t.p.allowed AS allowed, t.p.services AS services,
           t.p.last AS last_service_date, s.competing_tins, s.tied_tins, n.p.allowed AS npi_allowed,
           len(list_filter(n.npi_amounts, lambda x: x = n.max_npi)) AS tied_npis
    FROM tin_pick t JOIN npi_pick n USING ({key}, person_id, payer)
    JOIN tin_stats s USING ({key}, person_id, payer)
    """


def _lookup_tables(con: duckdb.DuckDBPyConnection) -> None:
    codes = load_value_set("primary_care_services").codes
    con.execute("CREATE OR REPLACE TEMP TABLE pc_codes (code VARCHAR)")
    con.executemany("INSERT INTO pc_codes VALUES (?)", [[c] for c in codes])
    con.execute("CREATE OR REPLACE TEMP TABLE pc_specialties (specialty VARCHAR)")
    con.executemany("INSERT INTO pc_specialties VALUES (?)", [[s] for s in PRIMARY_CARE_SPECIALTIES])
    con.execute("CREATE OR REPLACE TEMP TABLE non_clinicians (specialty VARCHAR)")
    con.executemany("INSERT INTO non_clinicians VALUES (?)", [[s] for s in NON_CLINICIAN_SPECIALTIES])


def build_attribution(con: duckdb.DuckDBPyConnection, settings: AttributionSettings) -> None:
    """Create table `attribution` (person_id, payer, year, tin, npi, organization, step, ...)."""
    _lookup_tables(con)
    first, last = _data_months(con)
    years = [
        r[0] for r in con.execute("SELECT DISTINCT year(year_month) FROM member_months ORDER BY 1").fetchall()
    ]
    con.execute("CREATE OR REPLACE TEMP TABLE year_windows (y INTEGER, w_start DATE, w_end DATE)")
    if years:
        con.executemany(
            "INSERT INTO year_windows VALUES (?, ?, ?)",
            [[y, *fit_to_data(window_for_year(settings, y), first, last, settings)] for y in years],
        )
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE attribution_services AS
    WITH lines AS ({QUALIFYING_LINES_SQL})
    SELECT w.y AS year, l.*
    FROM year_windows w JOIN lines l ON l.claim_start_date BETWEEN w.w_start AND w.w_end
    """)
    con.execute(f"""
    CREATE OR REPLACE TABLE attribution AS
    SELECT year, person_id, payer, step, tin, npi, organization, allowed, services, last_service_date,
           'computed' AS source
    FROM ({_pick_sql("attribution_services", "year")})
    """)


def apply_payer_attribution(con: duckdb.DuckDBPyConnection) -> bool:
    """Use a supplied provider_attribution extract; return True when one was supplied."""
    n = con.execute("SELECT count(*) FROM provider_attribution").fetchall()[0][0]
    if not n:
        return False
    con.execute("""
    CREATE OR REPLACE TABLE attribution_monthly AS
    SELECT person_id, payer,
           make_date(CAST(substr(year_month, 1, 4) AS INTEGER), CAST(substr(year_month, 5, 2) AS INTEGER), 1)
               AS year_month,
           payer_attributed_provider_practice AS tin, payer_attributed_provider AS npi,
           coalesce(payer_attributed_provider_organization, p.provider_organization) AS organization
    FROM provider_attribution a LEFT JOIN provider p ON p.npi = a.payer_attributed_provider
    """)
    return True


# ---------------------------------------------------------------------------------------------
# On demand, for a contract's settings: attribution in force at a month, the reason for every
# member, month-over-month gains and losses by reason, and the attribution of a performance year.
# ---------------------------------------------------------------------------------------------

GAIN_REASONS = ("new enrollee", "moved from another TIN", "new qualifying visit")
LOSS_REASONS = ("disenrolled", "died", "moved to another TIN", "no qualifying visit")
STEP_LABELS = {1: "step 1: primary care clinicians", 2: "step 2: specialists"}


def window_as_of(settings: AttributionSettings, month: date) -> tuple[date, date]:
    """The assignment window behind the attribution in force in `month`.

    Retrospective: the `window_months` months ending with `month` (a running assignment; in
    December this is the year-end assignment on the year's claims). Prospective: the
    `window_months` months ending with the December before the year, fixed for the whole year.
    """
    month = month.replace(day=1)
    last = month if settings.mode == "retrospective" else date(month.year - 1, 12, 1)
    return add_months(last, 1 - settings.window_months), month_end(last)


def window_for_year(settings: AttributionSettings, year: int) -> tuple[date, date]:
    """The assignment window of a performance year (what a settlement uses)."""
    return window_as_of(settings, date(year, 12, 1))


def fit_to_data(
    window: tuple[date, date],
    first_month: date | None,
    last_month: date | None,
    settings: AttributionSettings,
) -> tuple[date, date]:
    """A performance year's window, moved onto the data when it starts before them.

    A window that starts before the data rests on a few months of claims (a first partial year:
    only members seen in those months get attributed, the sickest, inflating that year's PMPM by
    organization). It is moved to the first `window_months` months of data, never past the data.
    """
    start, end = window
    if first_month is None or start >= first_month:
        return window
    first_month = first_month.replace(day=1)
    end = max(end, month_end(add_months(first_month, settings.window_months - 1)))
    if last_month is not None:
        end = min(end, month_end(last_month))
    return first_month, end


def _data_months(con: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None]:
    first, last = con.execute("SELECT min(year_month), max(year_month) FROM member_months").fetchall()[0]
    return first, last


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]).fetchall()[0][0]
    )


def supplied(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the build used a payer-supplied provider_attribution extract."""
    return _has_table(con, "attribution_monthly") and bool(
        con.execute("SELECT count(*) FROM provider_attribution").fetchall()[0][0]
    )


def _qualifying_lines(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table q_lines: every qualifying primary care service, once per connection."""
    if con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'q_lines' AND temporary"
    ).fetchall()[0][0]:
        return
    _lookup_tables(con)
    con.execute(f"CREATE TEMP TABLE q_lines AS {QUALIFYING_LINES_SQL}")
    # Per person, clinician and month: what the pick needs, much smaller than the lines.
    con.execute("""
    CREATE TEMP TABLE q_monthly AS
    SELECT person_id, payer, step, tin, npi, any_value(organization) AS organization,
           CAST(date_trunc('month', claim_start_date) AS DATE) AS service_month,
           sum(allowed) AS allowed, count(*) AS n_services, max(claim_start_date) AS claim_start_date
    FROM q_lines GROUP BY ALL
    """)


# The columns of a pick (vbc.attribution._pick_sql) after its partition key.
PICK_COLUMNS = (
    "person_id, payer, step, tin, npi, organization, allowed, services, last_service_date, "
    "competing_tins, tied_tins, npi_allowed, tied_npis"
)
PICKS = "attribution_picks"


def serving_windows(con: duckdb.DuckDBPyConnection) -> list[tuple[date, date]]:
    """The assignment windows the build precomputes: each performance year's window under every
    allowed setting (what settlements and contracts read), and the window in force at each month of
    the data and the month before it under the default setting and the prospective ones (what the
    Attribution page and exports read). A 24-month running window is picked on demand: it is
    asked for rarely and would double the build's work."""
    first, last = _data_months(con)
    if first is None:
        return []
    months = [add_months(first, -1), *month_range(first, last)]
    windows: set[tuple[date, date]] = set()
    for window_months in (12, 24):
        for mode in ("retrospective", "prospective"):
            settings = AttributionSettings(window_months, mode)
            for year in range(first.year, last.year + 1):
                windows.add(fit_to_data(window_for_year(settings, year), first, last, settings))
            if mode == "prospective" or settings == AttributionSettings():
                windows |= {window_as_of(settings, m) for m in months}
    return sorted(windows)


def precompute_picks(con: duckdb.DuckDBPyConnection) -> dict:
    """Build-time table `attribution_picks`: the pick of every window in `serving_windows`, so a
    page reads the attribution in force instead of re-running the pick over the claim lines. A
    payer-supplied extract is read as it is and needs none."""
    if supplied(con):
        return {}
    windows = serving_windows(con)
    _qualifying_lines(con)
    con.execute("CREATE OR REPLACE TEMP TABLE pick_windows (wid INTEGER, w_start DATE, w_end DATE)")
    con.executemany("INSERT INTO pick_windows VALUES (?, ?, ?)", [[i, *w] for i, w in enumerate(windows)])
    con.execute("""
    CREATE OR REPLACE TEMP TABLE pick_services AS
    SELECT w.wid, l.* FROM pick_windows w JOIN q_monthly l ON l.service_month BETWEEN w.w_start AND w.w_end
    """)
    con.execute(f"""
    CREATE OR REPLACE TABLE {PICKS} AS
    SELECT w.w_start, w.w_end, {PICK_COLUMNS}
    FROM ({_pick_sql("pick_services", "wid", "sum(n_services)")}) p JOIN pick_windows w USING (wid)
    ORDER BY w.w_start, w.w_end, person_id
    """)
    con.execute(f"CREATE OR REPLACE TABLE {PICKS}_windows AS SELECT w_start, w_end FROM pick_windows")
    for name in ("pick_services", "pick_windows", "q_monthly", "q_lines"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    return {"attribution_windows_precomputed": len(windows)}


def _picks_cover(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the build's attribution_picks hold every window in attr_windows."""
    if not serving.enabled() or not _has_table(con, f"{PICKS}_windows"):
        return False
    missing = con.execute(f"""
        SELECT count(*) FROM attr_windows w
        WHERE NOT EXISTS (SELECT 1 FROM {PICKS}_windows p WHERE p.w_start = w.w_start AND p.w_end = w.w_end)
    """).fetchall()[0][0]
    return missing == 0


def _assign(
    con: duckdb.DuckDBPyConnection,
    settings: AttributionSettings,
    months: list[date],
    window: tuple[date, date] | None = None,
) -> None:
    """Temp table attr_asof: the attribution in force at each as-of month (one row per attributed
    person), with the window it was computed on: read from the build's picks when it holds every
    window asked for, else picked from the qualifying services."""
    con.execute("CREATE OR REPLACE TEMP TABLE attr_windows (as_of DATE, w_start DATE, w_end DATE)")
    rows = [[m, *(window or window_as_of(settings, m))] for m in sorted(set(months))]
    con.executemany("INSERT INTO attr_windows VALUES (?, ?, ?)", rows)
    if not supplied(con) and _picks_cover(con):
        con.execute(f"""
        CREATE OR REPLACE TEMP TABLE attr_asof AS
        SELECT w.as_of, {", ".join("p." + c.strip() for c in PICK_COLUMNS.split(","))},
               w.w_start, w.w_end, 'computed' AS source
        FROM attr_windows w JOIN {PICKS} p ON p.w_start = w.w_start AND p.w_end = w.w_end
        """)
        return
    if supplied(con):
        con.execute("""
        CREATE OR REPLACE TEMP TABLE attr_asof AS
        SELECT w.as_of, a.person_id, a.payer, CAST(NULL AS INTEGER) AS step, a.tin, a.npi,
               a.organization, CAST(NULL AS DOUBLE) AS allowed, CAST(NULL AS BIGINT) AS services,
               CAST(NULL AS DATE) AS last_service_date, CAST(NULL AS BIGINT) AS competing_tins,
               CAST(NULL AS BIGINT) AS tied_tins, CAST(NULL AS DOUBLE) AS npi_allowed,
               CAST(NULL AS BIGINT) AS tied_npis, w.w_start, w.w_end, 'supplied' AS source
        FROM attr_windows w JOIN attribution_monthly a ON a.year_month = w.as_of
        WHERE a.tin IS NOT NULL OR a.npi IS NOT NULL
        """)
        return
    _qualifying_lines(con)
    con.execute("""
    CREATE OR REPLACE TEMP TABLE attr_services AS
    SELECT w.as_of, l.* FROM attr_windows w JOIN q_monthly l
      ON l.service_month BETWEEN w.w_start AND w.w_end
    """)
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE attr_asof AS
    SELECT p.*, w.w_start, w.w_end, 'computed' AS source
    FROM ({_pick_sql("attr_services", "as_of", "sum(n_services)")}) p JOIN attr_windows w USING (as_of)
    """)


def _money(x) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"${x:,.2f}"


def reason_text(r: dict) -> str:
    """Why a person is (or is not) attributed, in one sentence from the row of the pick."""
    w = f"{r['w_start']:%Y-%m} to {r['w_end']:%Y-%m}" if r.get("w_start") is not None else ""
    if r.get("source") == "supplied":
        return f"Payer-supplied attribution (provider_attribution extract) for {r['as_of']:%Y-%m}"
    if r.get("tin") is None or (isinstance(r.get("tin"), float) and math.isnan(r["tin"])):
        return (
            f"Not attributed: no primary care service from a primary care clinician or a specialist "
            f"in the assignment window {w}"
        )
    step = int(r["step"])
    who = "primary care clinicians" if step == 1 else "specialists (no primary care clinician visits)"
    org = r.get("organization")
    org = f" ({org})" if isinstance(org, str) and org else " (no organization)"
    text = (
        f"Step {step}, {who}: TIN {r['tin']}{org} had the plurality of allowed charges for primary "
        f"care services in {w}, {_money(r['allowed'])} over {int(r['services'])} service(s)"
    )
    competing, tied = int(r.get("competing_tins") or 1), int(r.get("tied_tins") or 1)
    if tied > 1:
        text += (
            f"; tied with {tied - 1} other TIN(s), so the most recent service decided "
            f"({r['last_service_date']:%Y-%m-%d})"
        )
    elif competing > 1:
        text += f"; more than the other {competing - 1} TIN(s) seen"
    else:
        text += "; the only TIN seen"
    text += f". PCP {r['npi']}: the most allowed charges within the TIN ({_money(r['npi_allowed'])})"
    if int(r.get("tied_npis") or 1) > 1:
        text += ", a tie broken by the most recent service"
    return text + "."


def attribution_at(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    month: date,
    settings: AttributionSettings = AttributionSettings(),
    window: tuple[date, date] | None = None,
    person_id: str | None = None,
) -> pd.DataFrame:
    """The attribution in force in `month`: one row per person enrolled that month (an organization's
    viewer: only its own attributed members, bound in the query), with the reason; only
    `person_id`'s row when given."""
    require_member_level(viewer)
    month = month.replace(day=1)
    _assign(con, settings, [month], window)
    scope = member_scope(viewer, alias="a")
    params: dict = {"month": month, **scope.params}
    one = ""
    if person_id is not None:
        one, params["person_id"] = "AND person_id = $person_id", person_id
    df = con.execute(
        f"""
        SELECT mm.person_id, mm.payer, a.organization, a.tin, a.npi, a.step, a.allowed, a.services,
               a.last_service_date, a.competing_tins, a.tied_tins, a.npi_allowed, a.tied_npis,
               coalesce(a.w_start, w.w_start) AS w_start, coalesce(a.w_end, w.w_end) AS w_end,
               coalesce(a.source, CASE WHEN w.as_of IS NULL THEN 'computed' END) AS source,
               $month AS as_of
        FROM (SELECT DISTINCT person_id, payer FROM member_months WHERE year_month = $month {one}) mm
        LEFT JOIN attr_asof a ON a.person_id = mm.person_id AND a.payer = mm.payer
        LEFT JOIN attr_windows w ON w.as_of = $month
        WHERE true {scope.sql}
        ORDER BY mm.person_id, mm.payer
    """,
        params,
    ).df()
    is_supplied = supplied(con)
    if is_supplied:
        df["source"] = "supplied"
    recs = df.to_dict("records")
    for r in recs:
        for k in ("w_start", "w_end", "as_of", "last_service_date"):
            if r.get(k) is not None and not isinstance(r[k], date) and not pd.isna(r[k]):
                r[k] = pd.Timestamp(r[k]).date()
        if is_supplied and r.get("tin") is None and r.get("npi") is None:
            r["source"] = None
    df["reason"] = [
        reason_text(r)
        if not (is_supplied and r["tin"] is None and r["npi"] is None)
        else f"Not attributed in the payer-supplied extract for {month:%Y-%m}"
        for r in recs
    ]
    df["step"] = df["step"].astype("Int64")
    return df


def export_rows(df: pd.DataFrame) -> list[dict]:
    """The CLI's rows: person_id, payer, organization, tin, npi, step (1, 2 or null), reason."""
    out = []
    for r in df[["person_id", "payer", "organization", "tin", "npi", "step", "reason"]].to_dict("records"):
        out.append(
            {
                k: (
                    None
                    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
                    else int(v)
                    if k == "step"
                    else v
                )
                for k, v in r.items()
            }
        )
    return out


def suppress_counts(df: pd.DataFrame, count: str, groups: list[str]) -> pd.DataFrame:
    """Joint view: hide counts from 1 to 10, and more cells in any group whose total is shown
    elsewhere until no hidden count can be worked out from it (vbc/suppression.py)."""
    df = df.copy()
    primary = df[count].map(is_small).astype(bool)
    df["suppressed"] = suppression.suppress(df, [list(groups)], [count], primary, count)
    df[count] = df[count].astype("float64")
    df.loc[df["suppressed"], count] = math.nan
    return df


def attributed_counts(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    months: list[date],
    settings: AttributionSettings = AttributionSettings(),
    by: tuple[str, ...] = ("organization",),
) -> pd.DataFrame:
    """Attributed members in force in each month, by organization / tin / npi (counts only)."""
    allowed = {"organization", "tin", "npi"}
    if not set(by) <= allowed:
        raise ValueError(f"cannot count attribution by {by}; choose from {sorted(allowed)}")
    _assign(con, settings, months)
    cols = ", ".join(f"a.{b}" for b in by)
    scope = member_scope(viewer, alias="a")
    df = con.execute(
        f"""
        SELECT strftime(a.as_of, '%Y-%m') AS month, {cols}, count(DISTINCT a.person_id) AS members
        FROM attr_asof a JOIN member_months mm
          ON mm.person_id = a.person_id AND mm.payer = a.payer AND mm.year_month = a.as_of
        WHERE true {scope.sql}
        GROUP BY ALL ORDER BY ALL
    """,
        scope.params,
    ).df()
    if viewer.suppresses:
        df = suppress_counts(df, "members", ["month"] + (["organization"] if len(by) > 1 else []))
    else:
        df["suppressed"] = False
    return df


def gains_losses(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    months: list[date],
    settings: AttributionSettings = AttributionSettings(),
    level: str = "organization",
) -> pd.DataFrame:
    """Members gained and lost from one month to the next, by reason, per organization (or TIN).

    Lost: disenrolled, died (death before the month), moved to another TIN (attributed elsewhere),
    no qualifying visit (still enrolled, no longer attributed). Gained: new enrollee, moved from
    another TIN, new qualifying visit. The first month is compared with the month before it.
    """
    if level not in ("organization", "tin"):
        raise ValueError("level must be organization or tin")
    months = sorted({m.replace(day=1) for m in months})
    if not months:
        return pd.DataFrame(columns=["month", "organization", "direction", "reason", "members"])
    _assign(con, settings, [add_months(months[0], -1), *months])
    key = "organization" if level == "organization" else "tin"
    extra = ", tin" if level == "tin" else ""
    scope = member_scope(viewer)
    # Moves to and from "no organization" are not an organization's gains or losses.
    where = scope.where() + (" AND organization IS NOT NULL" if level == "organization" else "")
    params: dict = {"first": months[0], "last": months[-1], **scope.params}
    df = con.execute(
        f"""
    WITH st AS (
        SELECT w.as_of, mm.person_id, mm.payer, a.tin, a.organization
        FROM attr_windows w
        JOIN (SELECT DISTINCT person_id, payer, year_month FROM member_months) mm ON mm.year_month = w.as_of
        LEFT JOIN attr_asof a ON a.as_of = w.as_of AND a.person_id = mm.person_id AND a.payer = mm.payer
    ), cur AS (SELECT * FROM st WHERE as_of >= $first),
    prev AS (SELECT *, CAST(as_of + INTERVAL 1 MONTH AS DATE) AS next_month FROM st WHERE as_of < $last),
    pairs AS (
        SELECT coalesce(c.as_of, p.next_month) AS month, coalesce(c.person_id, p.person_id) AS person_id,
               p.person_id IS NOT NULL AS prev_enrolled, c.person_id IS NOT NULL AS cur_enrolled,
               p.tin AS prev_tin, p.organization AS prev_org, c.tin AS cur_tin, c.organization AS cur_org,
               p.{key} AS prev_key, c.{key} AS cur_key
        FROM cur c FULL JOIN prev p
          ON c.person_id = p.person_id AND c.payer = p.payer AND c.as_of = p.next_month
    ), moves AS (
        SELECT x.month, x.prev_org AS organization, x.prev_tin AS tin, 'lost' AS direction,
               CASE WHEN NOT x.cur_enrolled AND m.death_date < x.month THEN 'died'
                    WHEN NOT x.cur_enrolled THEN 'disenrolled'
                    WHEN x.cur_tin IS NOT NULL THEN 'moved to another TIN'
                    ELSE 'no qualifying visit' END AS reason, x.person_id
        FROM pairs x LEFT JOIN members m USING (person_id)
        WHERE x.prev_tin IS NOT NULL AND x.prev_key IS DISTINCT FROM x.cur_key
        UNION ALL
        SELECT x.month, x.cur_org, x.cur_tin, 'gained',
               CASE WHEN NOT x.prev_enrolled THEN 'new enrollee'
                    WHEN x.prev_tin IS NOT NULL THEN 'moved from another TIN'
                    ELSE 'new qualifying visit' END, x.person_id
        FROM pairs x
        WHERE x.cur_tin IS NOT NULL AND x.prev_key IS DISTINCT FROM x.cur_key
    )
    SELECT strftime(month, '%Y-%m') AS month, organization{extra}, direction, reason,
           count(DISTINCT person_id) AS members
    FROM moves {where}
    GROUP BY ALL
    """,
        params,
    ).df()
    return _every_reason(df, viewer, months, level)


def _every_reason(df: pd.DataFrame, viewer: Viewer, months: list[date], level: str) -> pd.DataFrame:
    """Every reason for every month and group, zeros included, so the table (and any suppression
    pattern) has the same shape whatever happened."""
    month_labels = [f"{m:%Y-%m}" for m in months]
    keys = df[["organization", *(["tin"] if level == "tin" else [])]].drop_duplicates()
    if viewer.kind == "org" and keys.empty and level == "organization":
        keys = pd.DataFrame({"organization": [viewer.organization]})
    reasons = pd.DataFrame(
        [("gained", r) for r in GAIN_REASONS] + [("lost", r) for r in LOSS_REASONS],
        columns=["direction", "reason"],
    )
    grid = pd.DataFrame({"month": month_labels}).merge(keys, how="cross").merge(reasons, how="cross")
    df = grid.merge(df, how="left", on=["month", *keys.columns, "direction", "reason"])
    df["members"] = df["members"].fillna(0).astype("int64")
    df = df.sort_values(["month", *keys.columns, "direction", "reason"], kind="stable").reset_index(drop=True)
    if viewer.suppresses:
        return suppress_counts(df, "members", ["month", *keys.columns])
    df["suppressed"] = False
    return df


def member_detail(
    con: duckdb.DuckDBPyConnection,
    viewer: Viewer,
    person_id: str,
    month: date,
    settings: AttributionSettings = AttributionSettings(),
) -> dict | None:
    """Why one person is attributed where they are in `month`: the decision, every qualifying
    service in the window (date, code, clinician, TIN, allowed) and the totals by TIN.

    None when the viewer may not see the person (an organization sees only its own members)."""
    require_member_level(viewer)
    df = attribution_at(con, viewer, month, settings, person_id=person_id)
    row = df[df["person_id"] == person_id]
    if row.empty:
        return None
    r = row.iloc[0].to_dict()
    w_start, w_end = r["w_start"], r["w_end"]
    services = pd.DataFrame()
    by_tin = pd.DataFrame()
    if r.get("source") != "supplied":
        _lookup_tables(con)
        services = con.execute(
            f"""
            SELECT claim_start_date AS service_date, hcpcs_code, npi, provider_name, specialty, tin,
                   organization, step, allowed, claim_id
            FROM ({QUALIFYING_LINES_SQL}) WHERE person_id = $pid AND payer = $payer
              AND claim_start_date BETWEEN $w_start AND $w_end
            ORDER BY claim_start_date, claim_id
        """,
            {"pid": person_id, "payer": r["payer"], "w_start": w_start, "w_end": w_end},
        ).df()
        if len(services):
            services["service_date"] = pd.to_datetime(services["service_date"]).dt.date
            by_tin = (
                services.groupby(["step", "tin"], dropna=False)
                .agg(
                    organization=("organization", "first"),
                    allowed=("allowed", "sum"),
                    services=("allowed", "size"),
                    last_service=("service_date", "max"),
                )
                .reset_index()
                .sort_values(["step", "allowed", "last_service"], ascending=[True, False, False])
            )
    return {
        "person_id": person_id,
        "month": month,
        "assignment": r,
        "reason": r["reason"],
        "services": services,
        "by_tin": by_tin,
    }


def year_population(con: duckdb.DuckDBPyConnection, settings: AttributionSettings, year: int) -> str:
    """Temp table `contract_member_months`: the member months of `year` with the organization, TIN
    and NPI the contract's assignment gives each person (supplied extract: month by month)."""
    if supplied(con):
        con.execute(
            """
        CREATE OR REPLACE TEMP TABLE contract_member_months AS
        SELECT person_id, payer, plan, year_month, organization, tin, npi
        FROM member_months WHERE year(year_month) = $year
        """,
            {"year": year},
        )
        return "payer-supplied provider_attribution"
    month = date(year, 12, 1)
    w = fit_to_data(window_for_year(settings, year), *_data_months(con), settings)
    _assign(con, settings, [month], w)
    con.execute(
        """
    CREATE OR REPLACE TEMP TABLE contract_member_months AS
    SELECT mm.person_id, mm.payer, mm.plan, mm.year_month, a.organization, a.tin, a.npi
    FROM member_months mm LEFT JOIN attr_asof a ON a.person_id = mm.person_id AND a.payer = mm.payer
    WHERE year(mm.year_month) = $year
    """,
        {"year": year},
    )
    return f"computed ({settings.mode}, {settings.window_months}-month window {w[0]:%Y-%m} to {w[1]:%Y-%m})"


def _with_con(ws, fn, *args, **kw):
    con = ws.connect()
    try:
        return fn(con, *args, **kw)
    finally:
        con.close()


def page_data(
    ws, viewer: Viewer, start: date, end: date, settings: AttributionSettings, by: tuple[str, ...]
) -> dict:
    """Everything the Attribution page draws, in one connection: counts over time, gains and
    losses by reason, and (member-level viewers) the list in force at the end with reasons."""
    months = month_range(start, end)
    con = ws.connect()
    try:
        out = {
            "counts": attributed_counts(con, viewer, months, settings, by),
            "moves": gains_losses(con, viewer, months, settings),
            "supplied": supplied(con),
        }
        if viewer.member_level:
            out["members"] = attribution_at(con, viewer, months[-1], settings)
    finally:
        con.close()
    return out


def lookup(ws, viewer: Viewer, person_id: str, month: date, settings: AttributionSettings) -> dict | None:
    return _with_con(ws, member_detail, viewer, person_id, month, settings)
