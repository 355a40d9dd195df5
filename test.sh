#!/usr/bin/env bash
# Install everything the tests need (Python packages; Debian's chromium for the browser test and
# postgresql for the state-store tests),
# check style (ruff lint + format) and run the tests.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh requirements-dev.txt
source scripts/debian.sh
need_deb chromium /usr/bin/chromium "the browser tests and the packet's chart images"
need_deb fonts-dejavu-core /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf "the meeting packet's PDF text"
# The state-store tests run on SQLite and on a throwaway PostgreSQL server they start themselves.
need_deb postgresql "/usr/lib/postgresql/*/bin/pg_ctl" "the state-store tests on PostgreSQL"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# One worker per core and one more (the browser tests spend most of their time waiting on a page);
# whole files per worker, so a file's server or build is made once. `./test.sh -n 0` runs serially.
exec .venv/bin/python -m pytest -n "$(( $(nproc) + 1 ))" --dist loadfile "$@"
