#!/usr/bin/env bash
# fleet.sh: onboardings per second and server CPU per phase for the demo
# fleet (m2msec demo: real all-in-one server process, N devices), next to
# the bare OpenSSL handshake loop for the same suites (bench_tls), in the
# same run; the last line is a JSON record of the run's figures and ratios.
# Release build:
#
#   cmake --preset release && cmake --build --preset release --target m2msec bench_tls
#   bench/fleet.sh [DEVICES] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES="${1:-1000}"
THREADS="${2:-16}"
BIN="${BUILD_DIR:-build/release}"  # another build to compare, e.g. BUILD_DIR=/path/to/old/build
[ -x "$BIN/m2msec" ] && [ -x "$BIN/bench/bench_tls" ] || { echo "build the release preset first (see the header)" >&2; exit 2; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== demo fleet: $DEVICES devices, $THREADS concurrent" >&2
"$BIN/m2msec" demo --devices "$DEVICES" --threads "$THREADS" --gba-every 0 --json > "$out/demo.json"
echo "== bare OpenSSL handshake loop (bench_tls)" >&2
"$BIN/bench/bench_tls" 400 > "$out/bare.txt" 2>&1

python3 - "$out/demo.json" "$out/bare.txt" <<'PY'
import json, re, sys
demo = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
bare = open(sys.argv[2]).read()

# bench_tls prints one row per mode: "| <mode> | <suite> | m2msec hs/s | bare hs/s | ratio | m2msec us | bare us |"
rows = {}
for line in bare.splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) >= 7 and cells[0] in ("TLS-PSK", "TLS-cert", "DTLS-PSK", "DTLS-cert"):
        try:
            rows[cells[0]] = {"suite": cells[1], "bare_hs_s": float(cells[3]), "bare_cpu_us": float(cells[6])}
        except ValueError:
            pass

boot, assoc = demo["phases"]["bootstrap"], demo["phases"]["associate"]
wall = boot["wall_s"] + assoc["wall_s"]
print(f"devices {demo['devices']}  ok {demo['ok']}  failed {demo['failed']}  mix {demo['frameworks']}")
print(f"onboardings/s (bootstrap + association + request): {demo['ok'] / wall:.1f}")
print()
print(f"{'phase':<11}{'rate/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'srv cpu ms/op':>15}")
for name, p in (("bootstrap", boot), ("associate", assoc)):
    print(f"{name:<11}{p['rate_per_s']:>9.1f}{p['p50_ms']:>9.1f}{p['p99_ms']:>9.1f}{p.get('server_cpu_ms_per_op', 0):>15.2f}")
print()
if not rows:
    print("bench_tls printed no table rows:\n" + bare)
    sys.exit(1)
print("bare OpenSSL loop, same run:")
for mode, r in rows.items():
    print(f"  {mode:<10} {r['suite']:<28} {r['bare_hs_s']:>8.0f} hs/s  {r['bare_cpu_us']:>6.0f} us server CPU/handshake")
psk = rows.get("TLS-PSK")
cert = rows.get("TLS-cert")
if psk and cert:
    # A MAF-based device costs the servers: bootstrap 1 PSK handshake (MEF);
    # association 1 PSK (MAF) + 1 cert (MAF->MEF Km fetch, first time) + 1 PSK
    # (Entity B) + 2 cert (Entity B->MAF fetch and de-registration).
    floor_boot = psk["bare_cpu_us"] / 1000
    floor_assoc = (2 * psk["bare_cpu_us"] + 3 * cert["bare_cpu_us"]) / 1000
    print()
    print(f"server CPU vs its bare-handshake floor: bootstrap {boot.get('server_cpu_ms_per_op', 0) / floor_boot:.1f}x "
          f"(floor {floor_boot:.2f} ms), associate {assoc.get('server_cpu_ms_per_op', 0) / floor_assoc:.1f}x "
          f"(floor {floor_assoc:.2f} ms)")
    # The last line, for the record: the figures and the ratios of this one run.
    print(json.dumps({
        "bench": "fleet", "devices": demo["devices"], "ok": demo["ok"],
        "device_state": demo.get("device_state", "files"),
        "onboardings_per_s": round(demo["ok"] / wall, 1),
        "bootstrap_per_s": round(boot["rate_per_s"], 1), "associate_per_s": round(assoc["rate_per_s"], 1),
        "bare_psk_hs_per_s": round(psk["bare_hs_s"]),
        "ratio_onboardings_bare_psk": round(demo["ok"] / wall / psk["bare_hs_s"], 3),
        "bootstrap_cpu_x_floor": round(boot.get("server_cpu_ms_per_op", 0) / floor_boot, 1),
        "associate_cpu_x_floor": round(assoc.get("server_cpu_ms_per_op", 0) / floor_assoc, 1)},
        separators=(",", ":")))
PY
