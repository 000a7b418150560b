#!/usr/bin/env bash
# test.sh: installs the dependencies, builds m2msec with AddressSanitizer and
# UndefinedBehaviorSanitizer (the asan preset) and runs every test: unit,
# integration (real processes on loopback), interop (openssl/gnutls-cli) and
# the fuzz-corpus replays. Exits non-zero on any failure.
#
#   scripts/test.sh            # asan+ubsan (default)
#   PRESET=dev scripts/test.sh # another preset: dev, tsan, release
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET="${PRESET:-asan}"
JOBS="${JOBS:-$(nproc)}"

bash scripts/install-deps.sh
cmake --preset "$PRESET"
cmake --build --preset "$PRESET" -j "$JOBS"
ctest --preset "$PRESET" -j "$JOBS" --output-on-failure
