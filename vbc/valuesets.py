"""Value sets: code lists shipped as YAML files under metrics/value_sets/, each with its source."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from vbc import codes as code_rules

VALUE_SET_DIR = Path(__file__).resolve().parent.parent / "metrics" / "value_sets"
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
)


@dataclass(frozen=True)
class ValueSet:
    name: str
    description: str
    source: str
    code_system: str
    codes: tuple[str, ...]
    path: Path


class ValueSetError(ValueError):
    pass


def _parse(path: Path) -> ValueSet:
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueSetError(f"{path.name}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise ValueSetError(f"{path.name}: expected a mapping with name, description, source, codes")
    for key in ("name", "description", "source", "code_system", "codes"):
        if key not in doc:
            raise ValueSetError(f"{path.name}: missing required field '{key}'")
    if doc["name"] != path.stem:
        raise ValueSetError(f"{path.name}: name '{doc['name']}' must match the file name")
    if doc["code_system"] not in CODE_SYSTEMS:
        raise ValueSetError(f"{path.name}: code_system must be one of {', '.join(CODE_SYSTEMS)}")
    raw = [item["code"] if isinstance(item, dict) else item for item in doc["codes"] or []]
    codes = _canonical(doc["code_system"], raw)
    if not codes:
        raise ValueSetError(f"{path.name}: has no codes")
    return ValueSet(
        doc["name"],
        str(doc["description"]).strip(),
        str(doc["source"]).strip(),
        doc["code_system"],
        tuple(codes),
        path,
    )


def _canonical(system: str, raw: list) -> list[str]:
    """Value-set codes in the same canonical form as the extracts' codes (vbc/codes.py), so
    'E11.9' in a published list matches 'e119' in a claim."""
    if system in code_rules.SYSTEMS and system != "bill_type":  # bill-type sets list 2-digit prefixes
        return [c for c in code_rules.normalize(system, raw) if c]
    return [str(c).strip() for c in raw if str(c).strip()]


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
