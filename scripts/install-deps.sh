#!/usr/bin/env bash
# install-deps.sh: installs every build and test dependency of m2msec from
# Debian 12 packages. Run as root (or with sudo available). Idempotent: a
# machine that already has everything skips apt-get entirely.
set -euo pipefail

PKGS=(
  build-essential g++ cmake ninja-build ccache pkg-config git python3
  libssl-dev openssl
  libboost1.81-dev
  libutf8proc-dev
  nlohmann-json3-dev
  libsqlite3-dev sqlite3
  libcli11-dev
  libspdlog-dev libfmt-dev
  libtomlplusplus-dev
  libgtest-dev libgmock-dev googletest
  libbenchmark-dev
  clang-16 libclang-rt-16-dev
  gnutls-bin
  libosmocore-utils
  procps
  postgresql libpq-dev
  haproxy nginx libnginx-mod-stream
  libcoap3-dev libcoap3-bin
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
