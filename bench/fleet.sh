#!/usr/bin/env bash
# fleet.sh: onboardings per second and server CPU per phase for the demo
# fleet (m2msec demo: real all-in-one server process, N devices), next to
# the bare OpenSSL handshake loop for the same suites (bench_tls, run just
# before and just after the demo), in the same run; the last line is a
# JSON record of the run's figures and ratios.
# Release build:
#
#   cmake --preset release && cmake --build --preset release --target m2msec bench_tls
#   bench/fleet.sh [DEVICES] [THREADS]
#
# DEVICES (default 1000) devices onboard, THREADS (default 16) at a time;
# the mix is the demo's without GBA and CoAP. BUILD_DIR=DIR measures
# another build (default build/release).
set -euo pipefail
case "${1:-}" in
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
esac
cd "$(dirname "$0")/.."
DEVICES="${1:-1000}"
THREADS="${2:-16}"
[[ "$DEVICES" =~ ^[1-9][0-9]*$ && "$THREADS" =~ ^[1-9][0-9]*$ ]] ||
  { echo "usage: bench/fleet.sh [DEVICES] [THREADS] (positive integers; --help for more)" >&2; exit 2; }
BIN="${BUILD_DIR:-build/release}"  # another build to compare, e.g. BUILD_DIR=/path/to/old/build
[ -x "$BIN/m2msec" ] && [ -x "$BIN/bench/bench_tls" ] || { echo "build the release preset first (see the header)" >&2; exit 2; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The bare loop runs just before and just after the demo, for the two
# kinds of handshake the floor counts, and the floor takes the mean of the
# two: a VM whose speed drifts during the run moves both sides alike.
bare() {  # file
  for mode in TLS-PSK TLS-mutual; do "$BIN/bench/bench_tls" 400 "$mode"; done > "$1" 2>&1
}
echo "== bare OpenSSL handshake loop (bench_tls TLS-PSK, TLS-mutual), before the demo" >&2
bare "$out/bare-before.txt"
echo "== demo fleet: $DEVICES devices, $THREADS concurrent" >&2
"$BIN/m2msec" demo --devices "$DEVICES" --threads "$THREADS" --gba-every 0 --coap-every 0 --json > "$out/demo.json"
echo "== bare OpenSSL handshake loop, after the demo" >&2
bare "$out/bare-after.txt"

python3 - "$out/demo.json" "$out/bare-before.txt" "$out/bare-after.txt" <<'PY'
import json, re, sys
demo = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])


def table(path):
    """table reads bench_tls's rows: "| <mode> | <suite> | m2msec hs/s | bare hs/s | ratio | m2msec us | bare us |"."""
    rows = {}
    for line in open(path).read().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 7 and cells[0] in ("TLS-PSK", "TLS-mutual"):
            try:
                rows[cells[0]] = {"suite": cells[1], "bare_hs_s": float(cells[3]), "bare_cpu_us": float(cells[6])}
            except ValueError:
                pass
    return rows


before, after = table(sys.argv[2]), table(sys.argv[3])
bare = open(sys.argv[2]).read() + open(sys.argv[3]).read()
rows = {}
for mode in before.keys() & after.keys():
    b, a = before[mode], after[mode]
    rows[mode] = {"suite": b["suite"], "bare_hs_s": (b["bare_hs_s"] + a["bare_hs_s"]) / 2,
                  "bare_cpu_us": (b["bare_cpu_us"] + a["bare_cpu_us"]) / 2,
                  "before_cpu_us": b["bare_cpu_us"], "after_cpu_us": a["bare_cpu_us"]}

boot, assoc = demo["phases"]["bootstrap"], demo["phases"]["associate"]
onboardings = demo["onboardings_per_s"]  # the demo's own figure: devices over both phases' wall time
print(f"devices {demo['devices']}  ok {demo['ok']}  failed {demo['failed']}  mix {demo['frameworks']}")
print(f"onboardings/s (bootstrap + association + request): {onboardings:.1f}")
print()
print(f"{'phase':<11}{'rate/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'srv cpu ms/op':>15}")
for name, p in (("bootstrap", boot), ("associate", assoc)):
    print(f"{name:<11}{p['rate_per_s']:>9.1f}{p['p50_ms']:>9.1f}{p['p99_ms']:>9.1f}{p.get('server_cpu_ms_per_op', 0):>15.2f}")
print()
if not rows:
    print("bench_tls printed no table rows:\n" + bare)
    sys.exit(1)
print("bare OpenSSL loop, same run (mean of before and after the demo):")
for mode, r in sorted(rows.items()):
    print(f"  {mode:<10} {r['suite']:<28} {r['bare_hs_s']:>8.0f} hs/s  {r['bare_cpu_us']:>6.0f} us server CPU/handshake"
          f" ({r['before_cpu_us']:.0f} before, {r['after_cpu_us']:.0f} after)")
psk = rows.get("TLS-PSK")
cert = rows.get("TLS-mutual")
if psk and cert:
    # The floor (issue 10): the bare server CPU of the handshakes each
    # device needs, by framework. A MAF-based device: 3 PSK (MEF, MAF,
    # Entity B); a Kpsa device: 2 PSK (MEF, Entity B); a certificate
    # device: 2 certificate handshakes (MEF, Entity B), both mutual (the
    # device presents its certificate and the server checks it), so the
    # TLS-mutual row, not the server-authenticated TLS-cert one. Bootstrap
    # takes the first of them, association the rest. The links between the
    # roles are persistent, so their handshakes are not per device.
    mix = demo["frameworks"]
    n = max(demo["ok"], 1)
    p_us, c_us = psk["bare_cpu_us"], cert["bare_cpu_us"]
    floor_boot = ((mix["maf"] + mix["kpsa"]) * p_us + mix["cert"] * c_us) / n / 1000
    floor_assoc = (mix["maf"] * 2 * p_us + mix["kpsa"] * p_us + mix["cert"] * c_us) / n / 1000
    boot_cpu = boot["server_cpu_ms_per_op"]
    assoc_cpu = assoc["server_cpu_ms_per_op"]
    device_cpu = demo["server_cpu_ms_per_device"]  # the demo's own figure: boot_cpu + assoc_cpu
    x_boot, x_assoc = boot_cpu / floor_boot, assoc_cpu / floor_assoc
    x_device = device_cpu / (floor_boot + floor_assoc)
    print()
    print(f"server CPU per device vs its handshake floor: {x_device:.1f}x ({device_cpu:.2f} ms against "
          f"{floor_boot + floor_assoc:.2f} ms); bootstrap {x_boot:.1f}x (floor {floor_boot:.2f} ms), "
          f"associate {x_assoc:.1f}x (floor {floor_assoc:.2f} ms)")
    # Where the server CPU goes: each phase's share by role (the threads'
    # names: mef-*, maf-*, cse-*), in ms per device of the phase.
    by_role = {}
    for name, p in (("bootstrap", boot), ("associate", assoc)):
        roles = p.get("server_cpu_ms_per_op_by_role")
        if roles:
            by_role[name] = {r: round(v, 3) for r, v in roles.items()}
            print(f"  {name:<10} by role (ms/device): " + "  ".join(f"{r} {v:.2f}" for r, v in sorted(roles.items())))
    # The last line, for the record: the figures and the ratios of this one run.
    print(json.dumps({
        "bench": "fleet", "devices": demo["devices"], "ok": demo["ok"],
        "device_state": demo.get("device_state", "files"),
        "onboardings_per_s": round(onboardings, 1),
        "bootstrap_per_s": round(boot["rate_per_s"], 1), "associate_per_s": round(assoc["rate_per_s"], 1),
        "bare_psk_hs_per_s": round(psk["bare_hs_s"]),
        "bare_psk_server_cpu_us": round(p_us), "bare_mutual_server_cpu_us": round(c_us),
        "bare_psk_server_cpu_us_before_after": [round(psk["before_cpu_us"]), round(psk["after_cpu_us"])],
        "bare_mutual_server_cpu_us_before_after": [round(cert["before_cpu_us"]), round(cert["after_cpu_us"])],
        "ratio_onboardings_bare_psk": round(onboardings / psk["bare_hs_s"], 3),
        "server_cpu_ms_per_device": round(device_cpu, 3),
        "floor_ms_per_device": round(floor_boot + floor_assoc, 3),
        "cpu_x_floor": round(x_device, 2),
        "bootstrap_cpu_x_floor": round(x_boot, 1),
        "associate_cpu_x_floor": round(x_assoc, 1),
        "server_cpu_ms_by_role": by_role},
        separators=(",", ":")))
PY
