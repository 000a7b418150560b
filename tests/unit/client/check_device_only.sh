#!/bin/sh
# check_device_only.sh BINARY: fails if a device-side program carries any
# server-side code: a shared SQLite or toml++ library, or a symbol of the
# store, service, MEF, MAF or Entity B modules. Shows that it can fail with
# a control: the m2msec CLI (second argument) must be flagged.
set -u
check() {
  bad=0
  if ldd "$1" | grep -E 'libsqlite3|libtomlplusplus'; then bad=1; fi
  if nm -C "$1" | grep -E ' m2msec::(store|service|mef|maf|entityb)::' | head -3 | grep .; then bad=1; fi
  if nm "$1" | grep -E ' [TU] sqlite3_' | head -3 | grep .; then bad=1; fi
  return $bad
}
check "$1" || { echo "FAIL: $1 carries server-side code"; exit 1; }
if check "$2" >/dev/null; then echo "FAIL: the control $2 was not flagged"; exit 1; fi
echo "ok: $1 links no store, service, SQLite or toml++"
