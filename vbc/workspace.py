"""A data directory and its builds: where marts live, when to rebuild, the stamp.

Every build is a new DuckDB file (`marts-<id>.duckdb`) that holds its own description (table
`build_meta`: paid-through date, fingerprint, findings, ...). A build is swapped in only when
validation, the delivery comparison and the marts succeed, by rewriting the pointer `current.json`;
a failed build leaves the last good one serving. A Workspace is pinned to one build when it is
opened, and reads both its numbers and its stamp from that file, so an export can never carry one
build's stamp with another build's numbers, however builds swap in meanwhile. The previous build's
file is kept for readers still pinned to it.

One build runs at a time per data directory (an exclusive lock). A state directory that cannot be
written (read-only, disk full) makes the build fail with a clear finding and no leftovers; the last
good build keeps serving.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path

import duckdb

from vbc import delivery
from vbc.attribution import AttributionSettings, precompute_picks
from vbc.completion import runout_facts
from vbc.extracts import MAPPING_FILE, discover
from vbc.findings import ERROR, INFO, Report
from vbc.hcc import precompute_scores
from vbc.marts import build_marts
from vbc.registry import definitions_fingerprint
from vbc.serving import build_serving
from vbc.validate import stage_and_validate

CURRENT = "current.json"
ATTEMPT_META = "last_attempt.json"
LOCK = "build.lock"
DEMO_MARKER = "_demo.json"
KEEP_BUILDS = 2  # the current build and the one before it (readers may still be pinned to it)


class NoBuildError(RuntimeError):
    """No build has ever succeeded for this data directory."""


class BuildBusy(RuntimeError):
    """Another process is building this data directory right now."""


def state_tag(data_dir: Path) -> str:
    """The folder name a data directory's builds get under VBC_STATE_DIR or the user cache."""
    return hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:12]


def state_dir_for(data_dir: Path) -> Path:
    """Where builds for `data_dir` live: VBC_STATE_DIR, else `<data>/.vbc`, else the user cache."""
    data_dir = Path(data_dir).resolve()
    tag = state_tag(data_dir)
    if os.environ.get("VBC_STATE_DIR"):
        return Path(os.environ["VBC_STATE_DIR"]) / tag
    local = data_dir / ".vbc"
    if os.access(data_dir, os.W_OK) or local.is_dir():
        return local
    return Path.home() / ".cache" / "vbc" / tag


def _inputs(data_dir: Path) -> list[tuple[str, Path]]:
    """Every file a build reads: the extracts' files and the column mapping."""
    files = discover(data_dir).files()
    mapping = data_dir / MAPPING_FILE
    if mapping.is_file():
        files.append(("(mapping)", mapping))
    return files


def _file_signature(data_dir: Path) -> list[list]:
    """Cheap change detection: path, size and mtime of every input file."""
    sig = []
    for table, f in _inputs(data_dir):
        st = f.stat()
        sig.append([table, str(f.relative_to(data_dir)), st.st_size, st.st_mtime_ns])
    return sig


def data_fingerprint(data_dir: Path) -> str:
    """Content hash of every input file (names and bytes)."""
    h = hashlib.sha256()
    for table, f in _inputs(data_dir):
        h.update(f"{table}/{f.relative_to(data_dir)}\0".encode())
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=64)
def _meta_of(mart: str, mtime_ns: int) -> dict:
    """A build's description, read from the build's own file (files are never rewritten)."""
    con = duckdb.connect(mart, read_only=True)
    try:
        return json.loads(con.execute("SELECT meta FROM build_meta").fetchall()[0][0])
    finally:
        con.close()


@dataclass
class BuildResult:
    ok: bool
    report: Report
    meta: dict | None
    seconds: float
    busy: bool = False  # another build was running; nothing was built


# One open database per build file, kept for the process's later readers. A build file is never
# rewritten (each build is a new file), so a page view's connection is a cursor on it: no catalog
# read per connection, and the data pages a view has read stay in DuckDB's buffer for the next.
_OPEN_BUILDS: OrderedDict[str, duckdb.DuckDBPyConnection] = OrderedDict()
_OPEN_LOCK = threading.Lock()
KEEP_OPEN = 3  # the build serving now and the ones readers may still be pinned to


def open_build(path: Path) -> duckdb.DuckDBPyConnection:
    """A new read-only connection to the build file `path` (close it when done)."""
    key = str(path)
    with _OPEN_LOCK:
        db = _OPEN_BUILDS.get(key)
        if db is None:
            db = duckdb.connect(key, read_only=True)
            _OPEN_BUILDS[key] = db
            while len(_OPEN_BUILDS) > KEEP_OPEN:
                # Readers still holding a cursor keep that database alive until they close it.
                _OPEN_BUILDS.popitem(last=False)
        else:
            _OPEN_BUILDS.move_to_end(key)
        return db.cursor()


def _build_config(state_dir: Path) -> dict:
    """DuckDB settings of a build: a memory ceiling (VBC_BUILD_MEMORY, default 4GB) past which
    joins and aggregations spill to a folder in the state directory, so a large extract builds
    within a small machine's memory instead of taking most of it."""
    return {
        "memory_limit": os.environ.get("VBC_BUILD_MEMORY", "4GB"),
        "temp_directory": str(state_dir / ".spill"),
    }


@dataclass
class Workspace:
    data_dir: Path
    state_dir: Path
    pinned: str | None = field(default=None)  # the build file this workspace reads

    @classmethod
    def open(cls, data_dir: Path | str, build: str | None = None) -> Workspace:
        """The workspace of `data_dir`, pinned to `build` (a build file name) or the current one."""
        data_dir = Path(data_dir).resolve()
        ws = cls(data_dir, state_dir_for(data_dir))
        ws.pinned = build or ws.current_build()
        return ws

    # -------------------------------------------------------------------- reading the builds
    def _read(self, name: str) -> dict | None:
        try:
            return json.loads((self.state_dir / name).read_text())
        except (OSError, ValueError):
            return None

    def current_build(self) -> str | None:
        """The file name of the build now serving (None: no build has succeeded yet)."""
        pointer = self._read(CURRENT) or {}
        name = pointer.get("build")
        return name if name and (self.state_dir / name).is_file() else None

    @property
    def build_id(self) -> str | None:
        return self.pinned

    @property
    def mart_path(self) -> Path:
        if not self.pinned:
            raise NoBuildError(f"no successful build for {self.data_dir}")
        return self.state_dir / self.pinned

    @property
    def is_demo(self) -> bool:
        return (self.data_dir / DEMO_MARKER).is_file()

    @property
    def good(self) -> dict | None:
        """The pinned build's description (from its own file), or None without a build."""
        if not self.pinned:
            return None
        path = self.state_dir / self.pinned
        try:
            return _meta_of(str(path), path.stat().st_mtime_ns)
        except (OSError, duckdb.Error):
            return None

    @property
    def last_attempt(self) -> dict | None:
        return self._read(ATTEMPT_META)

    @property
    def failed_report(self) -> Report | None:
        """The report of the newest build attempt when it failed (and the last good one serves)."""
        attempt = self.last_attempt
        if attempt and not attempt.get("ok"):
            return Report.from_json(json.dumps(attempt.get("findings", [])))
        return None

    def report(self) -> Report:
        """Findings of the build now serving."""
        good = self.good
        return Report.from_json(json.dumps(good.get("findings", []))) if good else Report()

    def is_current(self) -> bool:
        """True when the newest build attempt saw exactly the files there are now, extracts and
        metric definitions (the build precomputes results from the definitions)."""
        attempt = self.last_attempt
        return (
            bool(attempt)
            and attempt.get("signature") == _file_signature(self.data_dir)
            and attempt.get("definitions") == definitions_fingerprint()
        )

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection to the pinned build."""
        if not self.good:
            raise NoBuildError(
                f"no successful build for {self.data_dir}; run `python -m vbc build --data {self.data_dir}` "
                "to see what is wrong"
            )
        return open_build(self.mart_path)

    # -------------------------------------------------------------------- building
    @contextmanager
    def _lock(self):
        """One build at a time per data directory; BuildBusy when another holds the lock."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fh = open(self.state_dir / LOCK, "a+")
        try:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BuildBusy(f"another build of {self.data_dir} is running") from None
            yield
        finally:
            fh.close()

    def build(
        self,
        settings: AttributionSettings | None = None,
        today: date | None = None,
        accept_shrink: bool = False,
    ) -> BuildResult:
        """Validate, compare with the last good build and build into a new file; swap it in only on
        success. Never raises for bad input or an unwritable state directory: the result says why."""
        started = time.perf_counter()
        report, meta, busy = Report(), None, False
        try:
            with self._lock():
                signature = _file_signature(self.data_dir) if self.data_dir.is_dir() else []
                meta = self._build_file(report, settings, today, accept_shrink, signature)
                self._record_attempt(meta is not None, signature, report)
        except BuildBusy as exc:
            busy = True
            report.add(
                INFO, "(build)", None, 0, f"{exc}; the last good build keeps serving meanwhile", check="busy"
            )
        except OSError as exc:
            report.add(
                ERROR, "(state directory)", None, 0, _unwritable(self.state_dir, exc), check="state_dir"
            )
            meta = None
        if meta is not None:
            self.pinned = meta["build"]
        return BuildResult(meta is not None, report, meta, time.perf_counter() - started, busy)

    def _build_file(
        self, report: Report, settings, today, accept_shrink: bool, signature: list
    ) -> dict | None:
        build = f"marts-{datetime.now(UTC):%Y%m%dT%H%M%S}-{os.getpid()}-{time.time_ns() % 10**6:06d}.duckdb"
        tmp = self.state_dir / f".{build}.building"
        try:
            con = duckdb.connect(str(tmp), config=_build_config(self.state_dir))
            try:
                meta = self._fill(con, report, settings, today, accept_shrink, signature, build)
            finally:
                con.close()
            if meta is None:
                return None
            os.replace(tmp, self.state_dir / build)
            self._write(CURRENT, {"build": build, "built_at": meta["built_at"]})
            self._prune(keep=build)
            return meta
        except duckdb.Error as exc:
            report.add(ERROR, "(build)", None, 0, f"build failed: {str(exc).splitlines()[0]}", check="build")
            if "No space left" in str(exc) or "Read-only" in str(exc):
                report.findings[-1].message = _unwritable(self.state_dir, exc)
            return None
        finally:
            for leftover in (tmp, Path(str(tmp) + ".wal")):
                try:
                    leftover.unlink(missing_ok=True)
                except OSError:
                    pass

    def _fill(self, con, report: Report, settings, today, accept_shrink, signature, build) -> dict | None:
        """Stage, check, compare with the last good build and build the marts into `con`."""
        clock = _Clock()
        staged = stage_and_validate(con, self.data_dir, today)
        report.findings += staged.findings
        report.facts = staged.facts
        clock.lap("validate")
        if not report.ok:
            return None
        current = delivery.stats(con)
        previous = Workspace(self.data_dir, self.state_dir, self.current_build()).good
        delivery.check(previous, current, report, accept_shrink)
        clock.lap("delivery")
        if not report.ok:
            return None
        facts = build_marts(con, settings)
        clock.lap("marts")
        facts |= runout_facts(con, _as_date(facts.get("paid_through")))
        clock.lap("runout")
        facts |= build_serving(con, facts)
        clock.lap("serving")
        facts |= precompute_picks(con)
        clock.lap("attribution_picks")
        facts |= precompute_scores(con)
        clock.lap("hcc_scores")
        meta = {
            **facts,
            "build_seconds": clock.laps,
            "build": build,
            "data_fingerprint": data_fingerprint(self.data_dir),
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "data_dir": str(self.data_dir),
            "demo": self.is_demo,
            "signature": signature,
            "delivery": current,
            "delivery_comparison": delivery.compare(previous, current),
            "accepted_shrink": accept_shrink and any(f.check == "shrink_accepted" for f in report.findings),
            "netted": report.facts.get("netted", {}),
            "turned_off": report.facts.get("turned_off", {}),
            "findings": json.loads(report.to_json()),
        }
        con.execute(
            "CREATE TABLE build_meta AS SELECT $meta AS meta", {"meta": json.dumps(meta, default=str)}
        )
        # Raw staging views point at the extract files; the mart must not need them.
        for (name,) in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal AND view_name LIKE 'raw\\_%' ESCAPE '\\'"
        ).fetchall():
            con.execute(f'DROP VIEW IF EXISTS "{name}"')
        con.execute("CHECKPOINT")
        return meta

    def _write(self, name: str, doc: dict) -> None:
        tmp = self.state_dir / f".{name}.{os.getpid()}.tmp"
        try:
            tmp.write_text(json.dumps(doc, indent=1, default=str))
            os.replace(tmp, self.state_dir / name)
        finally:
            tmp.unlink(missing_ok=True)

    def _record_attempt(self, ok: bool, signature: list, report: Report) -> None:
        doc = {
            "ok": ok,
            "signature": signature,
            "definitions": definitions_fingerprint(),
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "findings": json.loads(report.to_json()),
        }
        try:
            self._write(ATTEMPT_META, doc)
        except OSError:
            pass  # nothing more can be recorded; the result still says what happened

    def _prune(self, keep: str) -> None:
        builds = sorted(p for p in self.state_dir.glob("marts-*.duckdb") if p.name != keep)
        for old in builds[: max(len(builds) - (KEEP_BUILDS - 1), 0)]:
            try:
                old.unlink()
            except OSError:
                pass

    def ensure_built(self) -> BuildResult | None:
        """Build when the inputs changed since the last attempt; None when nothing had to be done.

        While another process builds, this serves the last good build (the result says busy)."""
        if self.is_current() and (self.good or self.failed_report):
            return None
        result = self.build()
        if result.ok or result.busy:
            self.pinned = self.current_build() or self.pinned
        return result


class _Clock:
    """Seconds spent in each step of a build, recorded in its description (bench/ reads them)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 2)
        self._last = now


def _as_date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _unwritable(state_dir: Path, exc: Exception) -> str:
    return (
        f"cannot write builds in {state_dir}: {getattr(exc, 'strerror', None) or str(exc).splitlines()[0]}. "
        "Free space or make it writable (or set VBC_STATE_DIR); the last good build keeps serving."
    )
