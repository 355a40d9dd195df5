"""The registry validates every definition at start-up and names the bad file and the problem."""

from __future__ import annotations

import shutil

import pytest

from vbc.registry import METRIC_DIR, MetricDefinitionError, load_registry


@pytest.fixture
def defs(tmp_path):
    d = tmp_path / "metrics"
    shutil.copytree(METRIC_DIR, d)
    return d


def _edit(defs, name, old, new):
    p = defs / f"{name}.yaml"
    text = p.read_text()
    assert old in text
    p.write_text(text.replace(old, new))


def _load(defs):
    return load_registry(defs, defs / "value_sets")


def test_shipped_definitions_load():
    reg = load_registry()
    assert {"total_cost_pmpm", "ed_visits_per_1000"} <= set(reg.metrics)
    m = reg.get("total_cost_pmpm")
    assert (m.kind, m.domain, m.direction) == ("pmpm", "cost", "lower")


@pytest.mark.parametrize(
    "old,new,problem",
    [
        ("kind: pmpm", "kind: percent", "kind 'percent' is not one of"),
        ("name: Total cost of care PMPM (paid)\n", "", "missing required field(s): name"),
        ("id: total_cost_pmpm", "id: cost_pmpm", "must match the file name"),
        ("value_sets: []", "value_sets: [no_such_codes]", "value set 'no_such_codes' does not exist"),
        ("sum(paid_amount) AS paid", "sum(paid_amt) AS paid", "SQL does not run against the marts"),
        ("1 AS denominator", "1 AS denom", "missing denominator"),
        ("version: 1\ndomain", "version: one\ndomain", "version must be a whole number"),
        ("WHERE NOT led_to_admission", "WHERE visit_date > $since", "unknown parameter"),
    ],
)
def test_bad_definition_fails_naming_file(defs, old, new, problem):
    target = "ed_visits_per_1000" if "led_to_admission" in old else "total_cost_pmpm"
    _edit(defs, target, old, new)
    with pytest.raises(MetricDefinitionError) as err:
        _load(defs)
    assert f"{target}.yaml" in str(err.value)
    assert problem in str(err.value)


def test_invalid_yaml(defs):
    (defs / "broken.yaml").write_text("id: [unclosed\n")
    with pytest.raises(MetricDefinitionError, match="broken.yaml: not valid YAML"):
        _load(defs)


def test_undeclared_value_set_in_sql(defs):
    _edit(
        defs,
        "ed_visits_per_1000",
        "WHERE NOT led_to_admission",
        "WHERE NOT led_to_admission AND person_id IN (SELECT code FROM value_sets "
        "WHERE value_set = 'primary_care_services')",
    )
    with pytest.raises(MetricDefinitionError, match="not listed under value_sets"):
        _load(defs)
