"""One fixture builder for every test: small extracts written as Parquet per the data contract."""

from __future__ import annotations

import fcntl
import io
import os
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vbc.contract import DATE, INTEGER, NUMBER, TABLES

ROOT = Path(__file__).resolve().parents[1]
ARROW = {DATE: pa.date32(), NUMBER: pa.float64(), INTEGER: pa.int64()}


def write_table(data_dir: Path, name: str, rows: list[dict], drop: tuple[str, ...] = ()) -> Path:
    """Write `rows` as `<name>.parquet` with every contract column (missing ones null)."""
    table = TABLES[name]
    cols = [c for c in table.columns if c.name not in drop]
    arrays, fields = [], []
    for c in cols:
        typ = ARROW.get(c.type, pa.string())
        values = [r.get(c.name) for r in rows]
        if c.type == DATE:
            values = [date.fromisoformat(v) if isinstance(v, str) else v for v in values]
        arrays.append(pa.array(values, type=typ))
        fields.append(pa.field(c.name, typ))
    path = data_dir / f"{name}.parquet"
    data_dir.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), path)
    return path


def _elig(pid, start, end, death=None, gender="female", birth="1950-06-01"):
    return dict(
        person_id=pid,
        member_id="M" + pid,
        gender=gender,
        birth_date=birth,
        death_date=death,
        enrollment_start_date=start,
        enrollment_end_date=end,
        payer="Medicare",
        payer_type="medicare",
        plan="ACO",
    )


def _line(
    claim_id,
    line,
    pid,
    start,
    paid,
    *,
    claim_type="professional",
    hcpcs=None,
    pos=None,
    npi=None,
    tin=None,
    bill=None,
    rev=None,
    end=None,
    admit=None,
    discharge=None,
    allowed=None,
    paid_date=None,
    disposition=None,
    dx="I10",
):
    return dict(
        claim_id=claim_id,
        claim_line_number=line,
        claim_type=claim_type,
        person_id=pid,
        member_id="M" + pid,
        payer="Medicare",
        plan="ACO",
        claim_start_date=start,
        claim_end_date=end or start,
        claim_line_start_date=start,
        claim_line_end_date=end or start,
        admission_date=admit,
        discharge_date=discharge,
        discharge_disposition_code=disposition,
        paid_date=paid_date or "2025-09-30",
        bill_type_code=bill,
        revenue_center_code=rev,
        place_of_service_code=pos,
        hcpcs_code=hcpcs,
        rendering_npi=npi,
        billing_npi=npi,
        billing_tin=tin,
        facility_npi="F1" if claim_type == "institutional" else None,
        paid_amount=paid,
        allowed_amount=allowed if allowed is not None else paid,
        diagnosis_code_1=dx,
    )


def build_small_extract(data_dir: Path) -> Path:
    """The hand-worked fixture; expected figures are worked out in tests/test_engine.py."""
    write_table(
        data_dir,
        "eligibility",
        [
            _elig("A", "2025-01-15", "2025-06-30"),
            _elig("B", "2025-01-01", "2025-03-31", gender="male"),
            _elig("C", "2025-01-01", "2025-12-31", death="2025-04-10"),
            _elig("D", "2025-01-01", "2025-06-30"),
        ],
    )
    write_table(
        data_dir,
        "provider",
        [
            dict(
                npi="N1",
                provider_name="Dr One",
                specialty="internal medicine",
                tin="T1",
                provider_organization="Alpha Care",
            ),
            dict(
                npi="N2",
                provider_name="Dr Two",
                specialty="family practice",
                tin="T2",
                provider_organization="Beta Health",
            ),
            dict(
                npi="N3",
                provider_name="Dr Three",
                specialty="cardiology",
                tin="T3",
                provider_organization="Beta Health",
            ),
            dict(
                npi="N4",
                provider_name="Dr Four",
                specialty="emergency medicine",
                tin="T9",
                provider_organization=None,
            ),
            dict(
                npi="F1",
                provider_name="General Hospital",
                specialty="acute care hospital",
                tin="T8",
                provider_organization=None,
            ),
        ],
    )
    write_table(
        data_dir,
        "medical_claim",
        [
            _line(
                "a1", 1, "A", "2025-02-10", 80.0, hcpcs="99213", pos="11", npi="N1", tin="T1", allowed=100.0
            ),
            _line(
                "b1", 1, "B", "2025-01-20", 120.0, hcpcs="99214", pos="11", npi="N2", tin="T2", allowed=150.0
            ),
            _line(
                "b2", 1, "B", "2025-02-12", 80.0, hcpcs="99213", pos="11", npi="N1", tin="T1", allowed=100.0
            ),
            _line(
                "b3",
                1,
                "B",
                "2025-03-01",
                1000.0,
                claim_type="institutional",
                bill="111",
                rev="0450",
                end="2025-03-05",
                admit="2025-03-01",
                discharge="2025-03-05",
                disposition="01",
            ),
            _line(
                "b3",
                2,
                "B",
                "2025-03-01",
                9000.0,
                claim_type="institutional",
                bill="111",
                rev="0120",
                end="2025-03-05",
                admit="2025-03-01",
                discharge="2025-03-05",
                disposition="01",
            ),
            _line("b4", 1, "B", "2025-03-01", 200.0, hcpcs="99284", pos="23", npi="N4", tin="T9"),
            _line(
                "c1", 1, "C", "2025-01-15", 110.0, hcpcs="99214", pos="11", npi="N3", tin="T3", allowed=140.0
            ),
            _line("c2", 1, "C", "2025-02-02", 700.0, claim_type="institutional", bill="131", rev="0450"),
            _line("c3", 1, "C", "2025-02-02", 150.0, hcpcs="99283", pos="23", npi="N4", tin="T9"),
            _line("d1", 1, "D", "2025-05-05", 500.0, claim_type="institutional", bill="131", rev="0450"),
            _line("d2", 1, "D", "2025-08-01", 300.0, hcpcs="71046", pos="22", npi="N4", tin="T9"),
        ],
    )
    write_table(
        data_dir,
        "pharmacy_claim",
        [
            dict(
                claim_id="rx1",
                claim_line_number=1,
                person_id="A",
                member_id="MA",
                payer="Medicare",
                plan="ACO",
                prescribing_provider_npi="N1",
                dispensing_date="2025-03-05",
                ndc_code="00071015523",
                quantity=30.0,
                days_supply=30,
                paid_date="2025-03-06",
                paid_amount=50.0,
                allowed_amount=55.0,
            ),
        ],
    )
    return data_dir


def build_utilization_extract(data_dir: Path) -> Path:
    """The small extract plus a transfer, an ED visit that became that admission, two SNF stays (one
    billed over two months) and imaging; worked by hand in tests/test_utilization.py."""
    build_small_extract(data_dir)
    rows = pq.read_table(data_dir / "medical_claim.parquet").to_pylist()
    rows += [
        _line(
            "t1",
            1,
            "A",
            "2025-04-01",
            5000.0,
            claim_type="institutional",
            bill="111",
            rev="0450",
            end="2025-04-03",
            admit="2025-04-01",
            discharge="2025-04-03",
            disposition="02",
        ),
        _line(
            "t2",
            1,
            "A",
            "2025-04-03",
            7000.0,
            claim_type="institutional",
            bill="111",
            rev="0120",
            end="2025-04-08",
            admit="2025-04-03",
            discharge="2025-04-08",
            disposition="01",
        ),
        _line("t3", 1, "A", "2025-04-01", 180.0, hcpcs="99284", pos="23", npi="N4", tin="T9"),
        _line(
            "s1",
            1,
            "A",
            "2025-04-08",
            6000.0,
            claim_type="institutional",
            bill="211",
            rev="0022",
            end="2025-04-30",
            admit="2025-04-08",
        ),
        _line(
            "s2",
            1,
            "A",
            "2025-05-01",
            5000.0,
            claim_type="institutional",
            bill="211",
            rev="0022",
            end="2025-05-20",
            admit="2025-04-08",
        ),
        _line(
            "s3",
            1,
            "D",
            "2025-06-10",
            2500.0,
            claim_type="institutional",
            bill="211",
            rev="0022",
            end="2025-06-15",
            admit="2025-06-10",
        ),
        _line("m1", 1, "A", "2025-02-15", 90.0, hcpcs="72148", pos="22", npi="N4", tin="T9"),
        _line(
            "i1",
            1,
            "D",
            "2025-05-20",
            400.0,
            claim_type="institutional",
            bill="131",
            rev="0350",
            hcpcs="74177",
        ),
        _line("i2", 1, "D", "2025-05-20", 60.0, hcpcs="74177", pos="22", npi="N4", tin="T9"),
    ]
    write_table(data_dir, "medical_claim", rows)
    return data_dir


def build_category_extract(data_dir: Path) -> Path:
    """The utilization extract plus one claim in each remaining service category, so every
    category's PMPM has dollars (tests/metric_cases.yaml works them out):
    home health D 2025-06-02 type of bill 321 $600; DME B 2025-02-05 E0601 $250; other (ambulance,
    place of service 41) A 2025-04-01 A0427 $700."""
    build_utilization_extract(data_dir)
    rows = pq.read_table(data_dir / "medical_claim.parquet").to_pylist()
    rows += [
        _line("h1", 1, "D", "2025-06-02", 600.0, claim_type="institutional", bill="321", rev="0551"),
        _line("e1", 1, "B", "2025-02-05", 250.0, hcpcs="E0601", pos="12", npi="N4", tin="T9"),
        _line("k1", 1, "A", "2025-04-01", 700.0, hcpcs="A0427", pos="41", npi="N4", tin="T9"),
    ]
    write_table(data_dir, "medical_claim", rows)
    return data_dir


def runout_extract(data_dir: Path) -> Path:
    """Two members, Jan-Mar 2025, claims paid so that the lag triangle is the one worked by hand in
    tests/test_completion.py. X sees Dr One (Alpha Care), Y sees Dr Two (Beta Health)."""
    write_table(
        data_dir,
        "eligibility",
        [_elig("X", "2025-01-01", "2025-03-31"), _elig("Y", "2025-01-01", "2025-03-31", gender="male")],
    )
    write_table(
        data_dir,
        "provider",
        [
            dict(
                npi="N1",
                provider_name="Dr One",
                specialty="internal medicine",
                tin="T1",
                provider_organization="Alpha Care",
            ),
            dict(
                npi="N2",
                provider_name="Dr Two",
                specialty="family practice",
                tin="T2",
                provider_organization="Beta Health",
            ),
        ],
    )

    def visit(cid, pid, day, paid, paid_date, npi):
        return _line(
            cid, 1, pid, day, paid, hcpcs="99213", pos="11", npi=npi, tin="T" + npi[1], paid_date=paid_date
        )

    write_table(
        data_dir,
        "medical_claim",
        [
            visit("x1", "X", "2025-01-10", 100.0, "2025-01-31", "N1"),  # Jan, lag 0
            visit("y1", "Y", "2025-01-12", 60.0, "2025-02-20", "N2"),  # Jan, lag 1
            visit("y2", "Y", "2025-01-20", 16.0, "2025-03-05", "N2"),  # Jan, lag 2
            visit("x2", "X", "2025-02-03", 200.0, "2025-02-27", "N1"),  # Feb, lag 0
            visit("y3", "Y", "2025-02-14", 90.0, "2025-03-10", "N2"),  # Feb, lag 1
            visit("x3", "X", "2025-03-02", 300.0, "2025-03-31", "N1"),  # Mar, lag 0
        ],
    )
    write_table(data_dir, "pharmacy_claim", [])
    return data_dir


@pytest.fixture
def small_extract(tmp_path: Path) -> Path:
    return build_small_extract(tmp_path / "extract")


@pytest.fixture(scope="session")
def demo_extract(tmp_path_factory) -> Path:
    """A small generated demo extract shared by the tests that need realistic volume: generated
    once per run, also across pytest-xdist's workers (read-only; every test builds it into its
    own state directory)."""
    from vbc.demo import generate

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, shared by its workers
    out = root / "demo-2500-24-11"
    with open(root / "demo-2500-24-11.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "_demo.json").is_file():  # the generator writes it last
            generate(out, members=2500, months=24, seed=11)
    return out


def _quality_extract(data_dir: Path) -> Path:
    from tests.test_quality import build_quality_extract  # the measures' hand-worked fixture

    build_quality_extract(data_dir)
    return data_dir


FIXTURES = {
    "small": build_small_extract,
    "utilization": build_utilization_extract,
    "categories": build_category_extract,
    "runout": runout_extract,
    "quality": _quality_extract,
}


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """Hand-worked fixtures built once per test session, by name (FIXTURES): `built("small")`.

    Each has its own state directory inside the session's tmp folder (no environment variable),
    so tests that only read a build share it. A test that changes an extract copies it first."""
    cache: dict = {}

    def get(name: str):
        from vbc.workspace import Workspace

        if name not in cache:
            base = tmp_path_factory.mktemp(f"built-{name}")
            data = FIXTURES[name](base / "extract")
            ws = Workspace(data.resolve(), base / "state")
            result = ws.build()
            assert result.ok, result.report.text()
            cache[name] = ws
        return cache[name]

    return get


@pytest.fixture(scope="session")
def demo_ws(demo_extract, tmp_path_factory):
    """The generated demo extract, built once per session (read-only for the tests that use it)."""
    from vbc.workspace import Workspace

    ws = Workspace(demo_extract.resolve(), tmp_path_factory.mktemp("demo-state"))
    result = ws.build()
    assert result.ok, result.report.text()
    return ws


def built_workspace(data_dir: Path):
    """The workspace on `data_dir`, built (VBC_STATE_DIR set by the caller); fails with the report."""
    from vbc.workspace import Workspace

    ws = Workspace.open(data_dir)
    result = ws.build()
    assert result.ok, result.report.text()
    return ws


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, state: Path | None = None, subprocess_run: bool = False) -> CliResult:
    """`python -m vbc ARGS` with VBC_STATE_DIR=state: in this process (fast; the same `main` the
    entry point calls), or as a real subprocess when the entry point itself is under test."""
    env = {"VBC_STATE_DIR": str(state)} if state is not None else {}
    if subprocess_run:
        out = subprocess.run(
            [sys.executable, "-m", "vbc", *args],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        return CliResult(out.returncode, out.stdout, out.stderr)
    from vbc.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp, redirect_stdout(stdout), redirect_stderr(stderr):
        for k, v in env.items():
            mp.setenv(k, v)
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse usage errors and refusals exit like the real command
            code = exc.code if isinstance(exc.code, int) else 1
    return CliResult(code, stdout.getvalue(), stderr.getvalue())


# Accounts every page test can sign in as (the viewer each gives): payer, an org account for Beta
# Health or Alpha Care, the joint committee, an administrator. Real (non-demo) data needs them.
PASSWORD = "a test password, long enough"
ACCOUNTS = {
    "payer": ("payer@plan.test", "payer", None),
    "org:Beta Health": ("quality@beta.test", "org", "Beta Health"),
    "org:Alpha Care": ("quality@alpha.test", "org", "Alpha Care"),
    "org:Lakeside Physician Group": ("quality@lakeside.test", "org", "Lakeside Physician Group"),
    "joint": ("committee@plan.test", "committee", None),
    "admin": ("admin@plan.test", "admin", None),
}


def add_accounts(data_dir: Path) -> None:
    """The test accounts in `data_dir`'s state store (as VBC_STATE_DIR/VBC_STATE_URL say now);
    accounts that exist already are kept."""
    from vbc import accounts
    from vbc.store import open_store

    store = open_store(data_dir)
    for email, role, org in ACCOUNTS.values():
        try:
            accounts.add(store, email, role, org, PASSWORD, by="test")
        except accounts.AccountError:
            pass


def sign_in(at, email: str, password: str = PASSWORD):
    at.text_input(key="signin_email").input(email)
    at.text_input(key="signin_password").input(password)
    return at.button(key="FormSubmitter:sign_in-Sign in").click().run()


def open_page(
    data_dir: Path,
    page: str,
    viewer: str,
    monkeypatch,
    *,
    period: str | None = None,
    measure: str | None = None,
    state_root: Path | None = None,
    timeout: int = 120,
):
    """`page` of the dashboard on `data_dir`, signed in as the account of `viewer` (AppTest)."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("VBC_DATA_DIR", str(data_dir))
    if state_root is not None:
        monkeypatch.setenv("VBC_STATE_DIR", str(state_root))
    monkeypatch.delenv("VBC_STATE_URL", raising=False)
    add_accounts(data_dir)
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=timeout)
    if period:
        at.query_params["period"] = period
    if measure:
        at.query_params["measure"] = measure
    at.run()
    sign_in(at, ACCOUNTS[viewer][0])
    assert not at.exception, [e.value for e in at.exception]
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def copy_extract(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".vbc"))
    return dst


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL server for the session (tests/pgserver.py); skipped only outside CI
    when PostgreSQL is not installed (./test.sh installs it)."""
    from tests.pgserver import pg_bin, postgres_server

    if pg_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed; ./test.sh installs Debian's postgresql")
        pytest.skip("PostgreSQL is not installed (./test.sh installs it)")
    with postgres_server() as url:
        yield url


_fresh_databases = iter(range(1, 1_000_000))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """The URL of an empty state store on each database the product supports: a SQLite file, or a
    fresh database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.sqlite'}"
    from sqlalchemy import create_engine, text

    base = request.getfixturevalue("postgres_url")
    name = f"vbc_t{next(_fresh_databases)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))  # a generated name, no input
    admin.dispose()
    return base.replace("/vbc_test?", f"/{name}?")


@pytest.fixture
def store(store_url):
    """An upgraded, empty state store (vbc.store.open_store) on each database."""
    from vbc.store import open_store

    return open_store(url=store_url)


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (never a downloaded browser), one per test module."""
    from playwright.sync_api import sync_playwright

    from tests.test_browser import CHROMIUM, need_chromium

    need_chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        yield b
        b.close()
