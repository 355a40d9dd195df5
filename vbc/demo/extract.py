"""Writing the extract: members in chunks (each chunk's claims as their own part files, so memory stays
bounded at any size), the provider roster, the demo contract terms and the `_demo.json` summary."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import yaml

from vbc.demo.base import Shared
from vbc.demo.chunk import Chunk
from vbc.demo.claimant import claimant_months, claimant_story
from vbc.demo.columns import PAYER, PLAN, Vocab
from vbc.demo.emergency import season, winter_story
from vbc.demo.professional import qi_start_month, quality_story
from vbc.demo.roster import INDEPENDENT, NO_PCP, ORGANIZATIONS, Roster
from vbc.demo.window import iso_day, make_window
from vbc.spc import CHANGE_POINTS_FILE

CHUNK_MEMBERS = 20_000
SUMMARY_FILE = "_demo.json"
DEMO_CONTRACTS = Path(__file__).resolve().parents[2] / "data" / "contracts" / "demo"
TABLE_NAMES = ("eligibility", "provider", "medical_claim", "pharmacy_claim", "lab_result", "observation")


@dataclass
class _Totals:
    """What the summary adds up over the chunks."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLE_NAMES, 0))
    org_members: np.ndarray = field(default_factory=lambda: np.zeros(5, np.int64))
    qi_counts: np.ndarray = field(default_factory=lambda: np.zeros((2, 2)))
    claimant: tuple[str, float] | None = None


def generate(
    out_dir: Path,
    members: int = 20000,
    months: int = 36,
    seed: int = 7,
    end_month: str = "2026-10",
    *,
    chunk_members: int = CHUNK_MEMBERS,
) -> dict:
    """Write a seeded Medicare-like demo extract into `out_dir` and return its summary.

    The data covers `months` calendar months ending with `end_month` (YYYY-MM); claims are paid
    through the last day of `end_month`. The summary is also written to `out_dir/_demo.json`.
    """
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", str(end_month)):
        raise ValueError(f"end_month must be YYYY-MM, got {end_month!r}")
    if members < 1 or months < 1 or chunk_members < 1:
        raise ValueError("members, months and chunk_members must be positive")
    out_dir = Path(out_dir)
    _clear(out_dir)

    w = make_window(end_month, months)
    vocab = Vocab()
    roster = Roster(vocab)
    g = Shared(seed, w, vocab, roster, qi_start_month(w), claimant_months(w, end_month), season(w))
    totals = _write_chunks(out_dir, g, members, chunk_members)
    provider = roster.table()
    pq.write_table(provider, out_dir / "provider.parquet")
    totals.counts["provider"] = provider.num_rows

    summary = _summary(g, members, totals)
    # The demo organizations' contract terms travel with the data, like a real extract's would.
    contracts = out_dir / "contracts"
    contracts.mkdir(exist_ok=True)
    for terms in sorted(DEMO_CONTRACTS.glob("*.yaml")):
        shutil.copyfile(terms, contracts / terms.name)
    summary["contracts"] = sorted(p.name for p in contracts.glob("*.yaml"))
    _write_change_points(out_dir, summary["stories"]["quality_improvement"])
    (out_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=1))
    return summary


def _write_change_points(out_dir: Path, story: dict) -> None:
    """The planted improvement is a known, explained change, declared as a real data directory
    would declare it, so the charts rebase their limits there (vbc/spc.py)."""
    entry = {
        "metric_id": story["measure"],
        "organization": story["organization"],
        "month": story["start_month"],
        "title": "Blood pressure programme",
        "reason": "nurse-led hypertension follow-up started at every Lakeside practice (demo story)",
    }
    head = "# Known, explained changes: SPC charts rebase their limits from each month (vbc/spc.py).\n"
    (out_dir / CHANGE_POINTS_FILE).write_text(
        head + yaml.safe_dump([entry], sort_keys=False, allow_unicode=True, width=200)
    )


def _clear(out_dir: Path) -> None:
    """Remove what an earlier run wrote, so fewer chunks or members leave no stale part files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("medical_claim", "pharmacy_claim"):
        folder = out_dir / name
        folder.mkdir(exist_ok=True)
        for old in folder.glob("part-*.parquet"):
            old.unlink()
    for name in ("eligibility", "provider", "lab_result", "observation", "provider_attribution"):
        (out_dir / f"{name}.parquet").unlink(missing_ok=True)
    (out_dir / SUMMARY_FILE).unlink(missing_ok=True)
    (out_dir / CHANGE_POINTS_FILE).unlink(missing_ok=True)


def _write_chunks(out_dir: Path, g: Shared, members: int, chunk_members: int) -> _Totals:
    """Claims tables as one part file per chunk; the member-level tables appended to one file each."""
    totals = _Totals()
    writers: dict[str, pq.ParquetWriter] = {}
    try:
        for index, lo in enumerate(range(0, members, chunk_members)):
            chunk = Chunk(g, index, lo, min(chunk_members, members - lo))
            tables = chunk.run()
            for name, table in tables.items():
                totals.counts[name] += table.num_rows
                if name in ("medical_claim", "pharmacy_claim"):
                    pq.write_table(table, out_dir / name / f"part-{index:05d}.parquet", compression="zstd")
                else:
                    if name not in writers:
                        writers[name] = pq.ParquetWriter(
                            out_dir / f"{name}.parquet", table.schema, compression="zstd"
                        )
                    writers[name].write_table(table)
            totals.org_members += np.bincount(chunk.org, minlength=5)
            totals.qi_counts += chunk.qi_counts
            if chunk.claimant >= 0:
                totals.claimant = (f"P{chunk.gid[chunk.claimant] + 1:07d}", chunk.claimant_paid)
            del chunk, tables
    finally:
        for wr in writers.values():
            wr.close()
    return totals


def _summary(g: Shared, members: int, totals: _Totals) -> dict:
    labels = g.w.labels
    org_members = totals.org_members
    return {
        "seed": g.seed,
        "members": members,
        "months": g.w.months,
        "start_month": labels[0],
        "end_month": labels[-1],
        "paid_through": iso_day(g.w.last_day),
        "payer": PAYER,
        "plan": PLAN,
        "counts": totals.counts,
        "organizations": {
            **{ORGANIZATIONS[i]: int(org_members[i]) for i in range(3)},
            "independent PCPs": int(org_members[INDEPENDENT]),
            "no PCP": int(org_members[NO_PCP]),
        },
        "stories": {
            "quality_improvement": quality_story(labels, g.qi_month, totals.qi_counts),
            "winter_ed": winter_story(),
            "high_cost_claimant": claimant_story(labels, g.claimant_months, totals.claimant),
        },
    }
