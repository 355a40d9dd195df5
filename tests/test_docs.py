"""Documentation that cannot drift: the README's command block is the parser's own synopsis,
every setting the code reads is documented, every engine module is in "Where things live", and
the README describes the product (no issue numbers, no development notes)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_command_block_is_generated_from_the_parser():
    out = subprocess.run([sys.executable, "scripts/readme_cli.py", "--check"], cwd=ROOT)
    assert out.returncode == 0, "README's command block is out of date: run scripts/readme_cli.py"


def test_every_environment_setting_is_documented():
    names = set()
    for path in [*ROOT.glob("vbc/**/*.py"), ROOT / "dashboard.py", ROOT / "run.sh", ROOT / "test.sh"]:
        names |= set(re.findall(r"\b(VBC_[A-Z_]+)\b", path.read_text()))
    missing = sorted(n for n in names if n not in README)
    assert names and not missing, f"settings the code reads but the README does not mention: {missing}"


def test_every_engine_module_is_in_where_things_live():
    section = README.split("## Where things live", 1)[1]
    modules = sorted(
        str(p.relative_to(ROOT))
        for p in ROOT.glob("vbc/*.py")
        if p.name not in ("__init__.py", "__main__.py")
    )
    missing = [m for m in modules if m not in section and m.replace(".py", "/") not in section]
    assert not missing, f"modules missing from README's 'Where things live': {missing}"


def test_readme_describes_the_product_not_its_history():
    assert not re.search(r"\bissue\s*#?\d+", README, re.IGNORECASE), "README mentions issue numbers"
