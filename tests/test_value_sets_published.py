"""The value sets of the eCQM-adapted measures are CMS's published expansions, exactly.

The product reads the copies shipped in metrics/value_sets/published/; their checksums are recorded
in SHA256SUMS there, so these checks mean something on a clean clone. Where the workplace's copy of
the published content (shared/ecqm_value_sets beside the repository) is present, the shipped files
must be byte-identical to it.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest

from vbc import codes
from vbc.registry import MetricDefinitionError, load_registry, value_set_references
from vbc.valuesets import PUBLISHED_SYSTEMS, VALUE_SET_DIR, all_value_sets, published_expansions

PUBLISHED = VALUE_SET_DIR / "published"
SHARED = [
    Path(__file__).resolve().parents[2] / "shared" / "ecqm_value_sets",
    Path("/work/shared/ecqm_value_sets"),
]
ECQM_MEASURES = {
    "breast_cancer_screening": "CMS125",
    "colorectal_cancer_screening": "CMS130",
    "controlling_blood_pressure": "CMS165",
    "diabetes_hba1c_poor_control": "CMS122",
    "diabetes_eye_exam": "CMS131",
    "cervical_cancer_screening": "CMS124",
}
# Claims cannot match these code systems (pharmacy claims carry NDC, not RxNorm; no dental claims).
NOT_ON_CLAIMS = {"rxnorm", "cdt"}


def test_shipped_files_match_their_checksums():
    recorded = {}
    for line in (PUBLISHED / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        recorded[name] = digest
    shipped = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in PUBLISHED.glob("*.csv")}
    assert shipped == recorded
    assert set(recorded) == {f"{m}.csv" for m in ECQM_MEASURES.values()}


def test_shipped_files_are_the_published_ones_verbatim():
    source = next((d for d in SHARED if d.is_dir()), None)
    if source is None:
        pytest.skip("the published content is not beside this checkout; checksums checked above")
    for shipped in PUBLISHED.glob("*.csv"):
        assert shipped.read_bytes() == (source / shipped.name).read_bytes(), shipped.name


def _expansion_codes(oid: str, systems: tuple[str, ...]) -> set[str]:
    """The published codes of `oid` in `systems`, read straight from the CSVs (not via the loader)
    and put in canonical form."""
    raw = set()
    for path in PUBLISHED.glob("*.csv"):
        with path.open(newline="") as f:
            raw |= {r["code"] for r in csv.DictReader(f) if r["oid"] == oid and r["code_system"] in systems}
    system = "loinc" if systems == ("loinc",) else systems[-1]
    return {c for c in codes.normalize(system, sorted(raw)) if c}


def test_every_published_value_set_holds_exactly_the_expansion():
    published = [vs for vs in all_value_sets().values() if vs.published]
    assert len(published) >= 50
    for vs in published:
        expected = _expansion_codes(vs.published["oid"], PUBLISHED_SYSTEMS[vs.code_system])
        assert set(vs.codes) == expected, vs.name
        assert vs.published["oid"] in vs.source and vs.published["name"] in vs.source


def _measure_value_sets(metric) -> set[str]:
    """The value sets a measure's criteria name: in its SQL and in the shared definitions it calls
    (qualifying_encounters offers every visit value set; each measure names the ones it takes)."""
    names = set(value_set_references(metric.sql))
    for macro in metric.shared:
        if macro.name != "qualifying_encounters":
            names |= set(value_set_references(macro.sql))
    return names


def test_the_ecqm_measures_use_every_claims_code_of_each_published_set_they_name():
    """For each OID a measure (or a shared definition it calls) uses, the value sets it loads
    together hold every code the expansion lists in the code systems claims carry."""
    reg = load_registry()
    sets = all_value_sets()
    expansions = published_expansions()
    for metric_id, cms in ECQM_MEASURES.items():
        used = [sets[name] for name in _measure_value_sets(reg.get(metric_id)) if sets[name].published]
        by_oid: dict[str, set[str]] = {}
        for vs in used:
            by_oid.setdefault(vs.published["oid"], set()).update(vs.codes)
        for oid, loaded in by_oid.items():
            systems = set(expansions[oid]["codes"]) - NOT_ON_CLAIMS
            expected = set()
            for system in systems:
                target = "hcpcs" if system in ("cpt", "hcpcs") else system
                expected |= _expansion_codes(oid, PUBLISHED_SYSTEMS[target])
            assert loaded == expected, (metric_id, expansions[oid]["name"])
        assert by_oid, metric_id
        named = {r["oid"] for r in csv.DictReader((PUBLISHED / f"{cms}.csv").open(newline=""))}
        assert set(by_oid) <= named, metric_id


def test_ecqm_measures_use_project_lists_only_where_no_published_one_fits():
    """Every project-made list an eCQM-adapted measure uses names its source and is not a published
    value set under another name (the annual_wellness_visit measure's own G0438/G0439 list is not an
    eCQM criterion and may differ from CMS's Annual Wellness Visit set)."""
    reg = load_registry()
    sets = all_value_sets()
    published_names = {e["name"].lower() for e in published_expansions().values()}
    project_made = {"primary_care_services"}  # the trend's "seen in primary care" filter, not a criterion
    for metric_id in ECQM_MEASURES:
        for name in _measure_value_sets(reg.get(metric_id)):
            vs = sets[name]
            if vs.published:
                continue
            project_made.add(name)
            assert len(vs.source) > 20, name
            assert name.replace("_", " ") not in published_names, name
    assert project_made >= {"mammography_claims", "fobt_claims", "sdna_fit_claims", "ct_colonography_claims"}


def test_a_published_value_set_must_name_a_real_oid(tmp_path):
    import shutil

    d = tmp_path / "metrics"
    shutil.copytree(VALUE_SET_DIR.parent, d)
    (d / "value_sets" / "office_visit.yaml").write_text(
        "name: office_visit\ndescription: x\ncode_system: hcpcs\n"
        "published: {name: Office Visit, oid: 2.16.840.1.113883.3.464.1003.101.12.9999}\n"
    )
    with pytest.raises(MetricDefinitionError, match="office_visit.yaml: OID"):
        load_registry(d, d / "value_sets", check=False)


def test_value_set_lists_in_sql_must_be_declared(tmp_path):
    import shutil

    d = tmp_path / "metrics"
    shutil.copytree(VALUE_SET_DIR.parent, d)
    path = d / "diabetes_eye_exam.yaml"
    path.write_text(
        path.read_text().replace("'ophthalmological_services',", "'ophthalmological_services', 'pregnancy',")
    )
    with pytest.raises(MetricDefinitionError, match="pregnancy"):
        load_registry(d, d / "value_sets", check=False)
