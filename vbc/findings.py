"""What validation and the build find: one Finding per problem, naming the table, the column, how
many rows and the dollars involved; a Report collects them and says whether the build may go on."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

ERROR = "error"
WARNING = "warning"
INFO = "info"  # worth knowing, nothing wrong (e.g. an optional table that is computed when absent)


@dataclass
class Finding:
    severity: str
    table: str
    column: str | None
    rows: int
    message: str
    amount: float | None = None
    check: str = ""

    def text(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        return f"{self.severity.upper()}: {where}: {self.message}"


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    # What the build records beside the findings (netted corrections, columns that are empty).
    facts: dict = field(default_factory=dict)

    def add(
        self,
        severity: str,
        table: str,
        column: str | None,
        rows: int,
        message: str,
        amount: float | None = None,
        check: str = "",
    ) -> None:
        self.findings.append(Finding(severity, table, column, int(rows), message, amount, check))

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def infos(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == INFO]

    @property
    def ok(self) -> bool:
        return not self.errors

    def text(self) -> str:
        if not self.findings:
            return "No problems found."
        lines = [f.text() for f in self.errors + self.warnings]
        head = f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)"
        return "\n".join([head, *lines])

    def to_json(self) -> str:
        return json.dumps([asdict(f) for f in self.findings], indent=1)

    @classmethod
    def from_json(cls, text: str) -> Report:
        return cls([Finding(**f) for f in json.loads(text)])


def plural(n: int, word: str = "row") -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def quote(name: str) -> str:
    """Quote an identifier from the contract (never from user input)."""
    return '"' + name.replace('"', '""') + '"'
