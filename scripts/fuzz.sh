#!/usr/bin/env bash
# fuzz.sh TARGET [RUNS]: builds the fuzz preset (clang-16, libFuzzer, ASan,
# UBSan) and runs fuzz_TARGET for RUNS executions (default 10 million) on
# the checked-in corpus, writing new inputs to a scratch directory. Prints
# libFuzzer's final statistics. A crash leaves crash-* in the current
# directory; see docs/FUZZING.md.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: scripts/fuzz.sh TARGET [RUNS]}"
runs="${2:-10000000}"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$(nproc)" --target "fuzz_${target}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
build/fuzz/fuzz/fuzz_"${target}" -runs="$runs" -max_len=4096 -print_final_stats=1 "$scratch" "fuzz/corpus/${target}"
