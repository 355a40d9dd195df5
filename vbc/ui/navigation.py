"""The pages of the app, as data: file, title, icon and URL. dashboard.py builds the navigation
from this list and the page tests run every entry, so the two cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    file: str  # under pages/
    title: str
    icon: str
    # Shown in the navigation to administrators only (the page itself refuses everyone else).
    admin_only: bool = False
    # The page writes its own audit row for a view (with what it was asked for), so the
    # navigation's generic page_view row would count the view twice.
    audits_itself: bool = False

    @property
    def url_path(self) -> str:
        # The file's name: on a freshly started server Streamlit's first run looks a deep link up
        # in pages/ by that name (see vbc.ui.context.current), so the two must match.
        return self.file.removeprefix("pages/").removesuffix(".py")


PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/overview.py", "Overview", ":material/dashboard:"),
    PageSpec("pages/meeting.py", "Meeting", ":material/groups:"),
    PageSpec("pages/cost.py", "Cost of care", ":material/payments:"),
    PageSpec("pages/utilization.py", "Utilization", ":material/local_hospital:"),
    PageSpec("pages/data_health.py", "Data health", ":material/monitor_heart:"),
    PageSpec("pages/attribution.py", "Attribution", ":material/group:"),
    PageSpec("pages/settlement.py", "Settlement", ":material/request_quote:"),
    PageSpec("pages/definitions.py", "Definitions", ":material/menu_book:"),
    PageSpec("pages/quality.py", "Quality", ":material/verified:"),
    PageSpec("pages/care_gaps.py", "Care gaps", ":material/checklist:", audits_itself=True),
    PageSpec("pages/audit.py", "Audit log", ":material/policy:", admin_only=True),
)
DEFAULT = PAGES[0]
# The default page is served at the root URL; its own URL (/overview) must open it too, so a link
# copied from the sidebar or typed by hand works. Streamlit gives the default page no path of its
# own, so a hidden second entry serves the same file at it.
DEFAULT_ROOT_PATH = "home"
