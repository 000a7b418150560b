#!/usr/bin/env bash
# quickstart.sh: installs the dependencies, builds the release preset and
# runs the main job: key derivations end to end through the m2msec CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake --preset release
cmake --build --preset release -j "$(nproc)"
M2MSEC=build/release/m2msec

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077
echo "== m2msec $($M2MSEC --version | awk '{print $2}'): TS-0003 clause 10.3 derivations"
# A 48-byte exporter output, as EXPORTER-oneM2M-Bootstrap would give.
head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/exported.hex"
echo "-- split the exporter output into Ke and KeID (10.3.1, 10.3.4)"
$M2MSEC derive split --exported-file "$work/exported.hex" --fqdn mef.example.com --json | tee "$work/split.json"
python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key"])' "$work/split.json" > "$work/ke.hex"
echo "-- Km for MAF maf.example.com (10.3.2)"
$M2MSEC derive km --ke-file "$work/ke.hex" --maf-id maf.example.com --json
echo "-- Kpsa for Enrolee B /in-cse (10.3.3)"
$M2MSEC derive kpsa --ke-file "$work/ke.hex" --enrolee-b-id /in-cse --json
echo "-- NFKC: the full-width MAF-ID gives the same Km"
$M2MSEC derive km --ke-file "$work/ke.hex" --maf-id "ｍａｆ.example.com" --json
echo "== done. Next: build/release/m2msec --help"
