#!/usr/bin/env bash
# quickstart.sh: installs the dependencies, builds the release preset and
# runs the main job: the demo fleet against a real all-in-one server.
#
#   DEVICES=1000 scripts/quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES="${DEVICES:-1000}"

bash scripts/install-deps.sh
cmake --preset release
cmake --build --preset release -j "$(nproc)"
echo
echo "== m2msec demo: ${DEVICES} devices through bootstrap, MAF registration, association and a request"
build/release/m2msec demo --devices "${DEVICES}"
echo
echo "Next: build/release/m2msec --help, build/release/m2msec serve --config examples/all-in-one.toml"
