"""Who is viewing, what they may see, and small-cell suppression for shared views.

Entitlement is applied inside the engine's queries (the viewer's organization is a bound query
parameter on the member months every metric joins to), never by hiding widgets.
"""

from __future__ import annotations

from dataclasses import dataclass

SUPPRESS_MIN = 1
SUPPRESS_MAX = 10


@dataclass(frozen=True)
class Viewer:
    """payer: every row, member-level; org: its own organization's rows, member-level;
    joint: every organization, de-identified and with counts from 1 to 10 suppressed."""

    kind: str
    organization: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("payer", "org", "joint"):
            raise ValueError(f"unknown viewer kind '{self.kind}'")
        if (self.kind == "org") != bool(self.organization):
            raise ValueError("an org viewer needs an organization, and only an org viewer has one")

    @classmethod
    def parse(cls, text: str) -> Viewer:
        """'payer', 'joint' or 'org:NAME'."""
        text = (text or "").strip()
        if text in ("payer", "joint"):
            return cls(text)
        if text.startswith("org:") and text[4:].strip():
            return cls("org", text[4:].strip())
        raise ValueError(f"viewer must be payer, joint or org:NAME (got {text!r})")

    @property
    def key(self) -> str:
        """Stable text used in cache keys so cached results never cross viewers."""
        return self.kind if self.kind != "org" else f"org:{self.organization}"

    @property
    def label(self) -> str:
        return {"payer": "Payer (all organizations)", "joint": "Joint view (de-identified)"}.get(
            self.kind, f"{self.organization}"
        )

    @property
    def member_level(self) -> bool:
        return self.kind in ("payer", "org")

    @property
    def suppresses(self) -> bool:
        return self.kind == "joint"


class NotEntitled(PermissionError):
    pass


def require_member_level(viewer: Viewer) -> None:
    if not viewer.member_level:
        raise NotEntitled("member-level data is not available in the joint de-identified view")


def is_small(count) -> bool:
    """A count that may not be shown in a shared view (zero may be shown)."""
    try:
        return SUPPRESS_MIN <= int(count) <= SUPPRESS_MAX
    except (TypeError, ValueError):
        return False
