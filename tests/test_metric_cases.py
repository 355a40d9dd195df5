"""Every metric has a hand-worked case (tests/metric_cases.yaml) and the engine reproduces it.

The way MetricFlow keeps a checked query per metric: a definition and a second, plain computation
(here by hand, written next to the numbers) must agree, and a metric without a case fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vbc.engine import PER_1000_SCALE, compute_metrics
from vbc.periods import Period
from vbc.registry import load_registry
from vbc.security import Viewer

CASES = yaml.safe_load((Path(__file__).parent / "metric_cases.yaml").read_text())
DEFAULT_PERIOD = ["2025-01", "2025-06"]


def _case_id(case: dict) -> str:
    return f"{case['metric']}-{case['fixture']}-{case.get('viewer', 'payer')}-{'-'.join(case.get('period', DEFAULT_PERIOD))}"


def test_every_metric_has_a_hand_worked_case():
    registry = load_registry()
    covered = {c["metric"] for c in CASES}
    missing = sorted(set(registry.metrics) - covered)
    assert not missing, f"metrics without a case in tests/metric_cases.yaml: {', '.join(missing)}"
    unknown = sorted(covered - set(registry.metrics))
    assert not unknown, f"cases for metrics that do not exist: {', '.join(unknown)}"
    assert all(c.get("why") for c in CASES), "every case says how it was worked out"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_metric_case(case, built):
    registry = load_registry()
    metric = registry.get(case["metric"])
    period = Period.from_months(*case.get("period", DEFAULT_PERIOD))
    viewer = Viewer.parse(case.get("viewer", "payer"))
    df = compute_metrics(built(case["fixture"]), registry, [metric.id], viewer, period)
    assert len(df) == 1, df
    row = df.iloc[0]
    assert row["numerator"] == pytest.approx(case["numerator"]), case["why"]
    assert row["denominator"] == pytest.approx(case["denominator"]), case["why"]
    scale = PER_1000_SCALE if metric.kind == "per_1000" else 1
    assert row["value"] == pytest.approx(case["numerator"] / case["denominator"] * scale)
