#!/usr/bin/env python3
"""check_suites.py BINARY SUITE...: fails if BINARY (a gtest program) has a
test suite that is not among SUITE..., i.e. one that no ctest entry runs.
The tls tests are registered per suite (tests/unit/tls/CMakeLists.txt), so
a new suite must be added there; this test says so when it is not."""
import subprocess
import sys


def main():
    binary, registered = sys.argv[1], set(sys.argv[2:])
    out = subprocess.run([binary, "--gtest_list_tests"], capture_output=True, text=True, check=True).stdout
    suites = set()
    for line in out.splitlines():
        if not line or line.startswith(" ") or not line.endswith("."):
            continue  # a test name, or gtest_main's banner
        suite = line[:-1].split("/")[-1]  # Transports/TlsEms. -> TlsEms
        suites.add(suite)
    missing = sorted(suites - registered)
    if missing:
        print("suites no ctest entry runs (add them to tests/unit/tls/CMakeLists.txt):", ", ".join(missing))
        return 1
    if not suites:
        print("no suites listed by", binary)
        return 1
    print(f"all {len(suites)} suites are registered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
