#!/usr/bin/env bash
# Install and start the dashboard. With no --data DIR (and no VBC_DATA_DIR), demo data is generated.
#   ./run.sh                 demo data in data/demo
#   ./run.sh --data DIR      your extracts (one <table>.parquet or <table>/ folder per table)
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh requirements.txt
# The meeting packet draws its charts in Debian's chromium (kaleido) and writes DejaVu Sans; without
# them everything else works and the packet button says what is missing.
source scripts/debian.sh
need_deb chromium /usr/bin/chromium "chart images in the meeting packet" || echo "chromium not installed: packets will say so"
need_deb fonts-dejavu-core /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf "the packet's PDF text" || true
DATA="${VBC_DATA_DIR:-}"
if [ "${1:-}" = "--data" ] && [ -n "${2:-}" ]; then DATA="$2"; fi
if [ -z "$DATA" ]; then
  DATA="data/demo"
  if [ ! -f "$DATA/_demo.json" ]; then
    echo "No extracts given: generating demo data in $DATA …"
    .venv/bin/python -m vbc demo --out "$DATA"
  fi
fi
# Build (or keep the last good build) before the first page view; problems are shown in the app too.
.venv/bin/python -m vbc build --data "$DATA" || echo "Build failed: the app shows why (and the last good build, if any)."
if [ ! -f "$DATA/_demo.json" ]; then
  # Real extracts show nothing until someone signs in: without accounts this says how to create
  # the first administrator (the app's page says the same).
  .venv/bin/python -m vbc users list --data "$DATA" >/dev/null || true
fi
exec .venv/bin/python -m vbc serve --data "$DATA" --port "${PORT:-8501}"
