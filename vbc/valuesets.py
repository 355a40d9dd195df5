"""Value sets: code lists shipped as YAML files under metrics/value_sets/, each with its source.

A value set is either written out (`codes:` with a `source:` saying where they come from) or a
published eCQM expansion named by its name and OID (`published: {name, oid}`), whose codes are read
from the verbatim CSVs in metrics/value_sets/published/. A published value set can hold codes of
several code systems; a value set here holds the codes of one claim field, so `code_system` says
which: `hcpcs` takes the expansion's CPT and HCPCS codes (one procedure-code field on a claim
line), `icd10cm`, `icd10pcs` and `loinc` their own.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from vbc import codes as code_rules

VALUE_SET_DIR = Path(__file__).resolve().parent.parent / "metrics" / "value_sets"
PUBLISHED_DIR_NAME = "published"
CODE_SYSTEMS = (
    "hcpcs",
    "cpt",
    "icd10cm",
    "icd10pcs",
    "loinc",
    "ndc",
    "revenue",
    "pos",
    "bill_type",
    "drg",
    "specialty",
    "disposition",
    "snomed",
)
# A value set's code system -> the published code systems it takes.
PUBLISHED_SYSTEMS = {
    "hcpcs": ("cpt", "hcpcs"),
    "icd10cm": ("icd10cm",),
    "icd10pcs": ("icd10pcs",),
    "loinc": ("loinc",),
}


@dataclass(frozen=True)
class ValueSet:
    name: str
    description: str
    source: str
    code_system: str
    codes: tuple[str, ...]
    path: Path
    # The published expansion it is ({"name": ..., "oid": ...}), or None for a project-made list.
    published: dict | None = None


class ValueSetError(ValueError):
    pass


def _parse(path: Path) -> ValueSet:
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueSetError(f"{path.name}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise ValueSetError(f"{path.name}: expected a mapping with name, description, source, codes")
    published = doc.get("published")
    required = ("name", "description", "code_system") + (() if published else ("source", "codes"))
    for key in required:
        if key not in doc:
            raise ValueSetError(f"{path.name}: missing required field '{key}'")
    if doc["name"] != path.stem:
        raise ValueSetError(f"{path.name}: name '{doc['name']}' must match the file name")
    if doc["code_system"] not in CODE_SYSTEMS:
        raise ValueSetError(f"{path.name}: code_system must be one of {', '.join(CODE_SYSTEMS)}")
    if published:
        raw, source = _from_published(path, published, doc["code_system"])
    else:
        raw = [item["code"] if isinstance(item, dict) else item for item in doc["codes"] or []]
        source = str(doc["source"]).strip()
    codes = _canonical(doc["code_system"], raw)
    if not codes:
        raise ValueSetError(f"{path.name}: has no codes")
    return ValueSet(
        doc["name"],
        str(doc["description"]).strip(),
        source,
        doc["code_system"],
        tuple(codes),
        path,
        dict(published) if published else None,
    )


def _from_published(path: Path, published, system: str) -> tuple[list[str], str]:
    """The codes of a published expansion for `system`, checked against its name and OID."""
    if not isinstance(published, dict) or not published.get("oid") or not published.get("name"):
        raise ValueSetError(f"{path.name}: published must give the value set's name and oid")
    if system not in PUBLISHED_SYSTEMS:
        raise ValueSetError(
            f"{path.name}: a published value set's code_system must be one of {', '.join(PUBLISHED_SYSTEMS)}"
        )
    oid, name = str(published["oid"]), str(published["name"])
    expansion = published_expansions(path.parent / PUBLISHED_DIR_NAME).get(oid)
    if expansion is None:
        raise ValueSetError(f"{path.name}: OID {oid} is not in {PUBLISHED_DIR_NAME}/")
    if expansion["name"] != name:
        raise ValueSetError(
            f"{path.name}: OID {oid} is '{expansion['name']}' in the published files, not '{name}'"
        )
    raw = sorted(c for s in PUBLISHED_SYSTEMS[system] for c in expansion["codes"].get(s, ()))
    files = ", ".join(sorted(expansion["files"]))
    source = (
        f"CMS eCQM value set '{name}' (OID {oid}), published expansion in "
        f"metrics/value_sets/{PUBLISHED_DIR_NAME}/ ({files}); its {'/'.join(PUBLISHED_SYSTEMS[system])} codes."
    )
    return raw, source


@cache
def _published(directory: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for path in sorted(Path(directory).glob("*.csv")):
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                entry = out.setdefault(row["oid"], {"name": row["value_set"], "codes": {}, "files": set()})
                entry["codes"].setdefault(row["code_system"], set()).add(row["code"])
                entry["files"].add(path.name)
    return out


def published_expansions(directory: Path = VALUE_SET_DIR / PUBLISHED_DIR_NAME) -> dict[str, dict]:
    """OID -> {"name", "codes": {code system: set of codes as published}, "files"} from the CSVs."""
    return _published(str(directory))


def _canonical(system: str, raw: list) -> list[str]:
    """Value-set codes in the same canonical form as the extracts' codes (vbc/codes.py), so
    'E11.9' in a published list matches 'e119' in a claim."""
    if system in code_rules.SYSTEMS and system != "bill_type":  # bill-type sets list 2-digit prefixes
        return list(dict.fromkeys(c for c in code_rules.normalize(system, raw) if c))
    return list(dict.fromkeys(str(c).strip() for c in raw if str(c).strip()))


@cache
def _load_all(directory: str) -> dict[str, ValueSet]:
    return {p.stem: _parse(p) for p in sorted(Path(directory).glob("*.yaml"))}


def all_value_sets(directory: Path = VALUE_SET_DIR) -> dict[str, ValueSet]:
    return _load_all(str(directory))


def load_value_set(name: str, directory: Path = VALUE_SET_DIR) -> ValueSet:
    sets = all_value_sets(directory)
    if name not in sets:
        raise ValueSetError(f"value set '{name}' does not exist in {directory}")
    return sets[name]
