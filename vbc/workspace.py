"""A data directory and its last good build: where marts live, when to rebuild, the stamp.

Marts are built into a new DuckDB file and swapped in with an atomic rename only when validation
and the build succeed, so a failed build leaves the last good one serving.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from vbc.attribution import AttributionSettings
from vbc.completion import runout_facts
from vbc.contract import input_files
from vbc.marts import build_marts
from vbc.validate import Report, stage_and_validate

MART_FILE = "marts.duckdb"
GOOD_META = "last_good.json"
ATTEMPT_META = "last_attempt.json"
DEMO_MARKER = "_demo.json"


def _as_date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


class NoBuildError(RuntimeError):
    """No build has ever succeeded for this data directory."""


def state_dir_for(data_dir: Path) -> Path:
    """Where builds for `data_dir` live: VBC_STATE_DIR, else `<data>/.vbc`, else the user cache."""
    data_dir = Path(data_dir).resolve()
    tag = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    if os.environ.get("VBC_STATE_DIR"):
        return Path(os.environ["VBC_STATE_DIR"]) / tag
    local = data_dir / ".vbc"
    if os.access(data_dir, os.W_OK) or local.is_dir():
        return local
    return Path.home() / ".cache" / "vbc" / tag


def _file_signature(data_dir: Path) -> list[list]:
    """Cheap change detection: path, size and mtime of every input file."""
    sig = []
    for table, files in input_files(data_dir).items():
        for f in files:
            st = f.stat()
            sig.append([table, str(f.relative_to(data_dir)), st.st_size, st.st_mtime_ns])
    return sig


def data_fingerprint(data_dir: Path) -> str:
    """Content hash of every input extract file (names and bytes)."""
    h = hashlib.sha256()
    for table, files in sorted(input_files(data_dir).items()):
        for f in files:
            h.update(f"{table}/{f.relative_to(data_dir)}\0".encode())
            with open(f, "rb") as fh:
                while chunk := fh.read(1 << 22):
                    h.update(chunk)
    return h.hexdigest()


@dataclass
class BuildResult:
    ok: bool
    report: Report
    meta: dict | None
    seconds: float


@dataclass
class Workspace:
    data_dir: Path
    state_dir: Path

    @classmethod
    def open(cls, data_dir: Path | str) -> Workspace:
        data_dir = Path(data_dir).resolve()
        return cls(data_dir, state_dir_for(data_dir))

    @property
    def mart_path(self) -> Path:
        return self.state_dir / MART_FILE

    @property
    def is_demo(self) -> bool:
        return (self.data_dir / DEMO_MARKER).is_file()

    def _read(self, name: str) -> dict | None:
        p = self.state_dir / name
        try:
            return json.loads(p.read_text())
        except (OSError, ValueError):
            return None

    def _write(self, name: str, doc: dict) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_dir / f".{name}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(doc, indent=1, default=str))
        os.replace(tmp, self.state_dir / name)

    @property
    def good(self) -> dict | None:
        meta = self._read(GOOD_META)
        return meta if meta and self.mart_path.is_file() else None

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
        """True when the newest build attempt saw exactly the files there are now."""
        attempt = self.last_attempt
        return bool(attempt) and attempt.get("signature") == _file_signature(self.data_dir)

    def build(self, settings: AttributionSettings | None = None, today: date | None = None) -> BuildResult:
        """Validate and build into a new file; swap it in only on success."""
        started = time.perf_counter()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        signature = _file_signature(self.data_dir) if self.data_dir.is_dir() else []
        tmp = self.state_dir / f"marts.{os.getpid()}.{time.time_ns()}.building"
        meta = None
        try:
            con = duckdb.connect(str(tmp))
            try:
                report = stage_and_validate(con, self.data_dir, today)
                if report.ok:
                    facts = build_marts(con, settings)
                    facts |= runout_facts(con, _as_date(facts.get("paid_through")))
                    meta = {
                        **facts,
                        "data_fingerprint": data_fingerprint(self.data_dir),
                        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                        "data_dir": str(self.data_dir),
                        "demo": self.is_demo,
                        "signature": signature,
                        "findings": json.loads(report.to_json()),
                    }
                    con.execute(
                        "CREATE TABLE build_meta AS SELECT $meta AS meta",
                        {"meta": json.dumps(meta, default=str)},
                    )
                    # Raw staging views point at the extract files; the mart must not need them.
                    for (name,) in con.execute(
                        "SELECT view_name FROM duckdb_views() WHERE NOT internal "
                        "AND view_name LIKE 'raw\\_%' ESCAPE '\\'"
                    ).fetchall():
                        con.execute(f'DROP VIEW IF EXISTS "{name}"')
                    con.execute("CHECKPOINT")
            finally:
                con.close()
            if meta is not None:
                os.replace(tmp, self.mart_path)
                self._write(GOOD_META, meta)
        except duckdb.Error as exc:
            report = Report()
            report.add("error", "(build)", None, 0, f"build failed: {str(exc).splitlines()[0]}")
            meta = None
        finally:
            for leftover in (tmp, Path(str(tmp) + ".wal")):
                if leftover.exists():
                    leftover.unlink()
        self._write(
            ATTEMPT_META,
            {
                "ok": meta is not None,
                "signature": signature,
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "findings": json.loads(report.to_json()),
            },
        )
        return BuildResult(meta is not None, report, meta, time.perf_counter() - started)

    def ensure_built(self) -> BuildResult | None:
        """Build when the inputs changed since the last attempt; None when nothing had to be done."""
        if self.is_current() and (self.good or self.failed_report):
            return None
        return self.build()

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection to the last good build."""
        if not self.good:
            raise NoBuildError(
                f"no successful build for {self.data_dir}; run `python -m vbc build "
                f"--data {self.data_dir}` to see what is wrong"
            )
        return duckdb.connect(str(self.mart_path), read_only=True)
