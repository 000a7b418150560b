#!/usr/bin/env bash
# syscalls.sh: system calls and context switches per operation, by thread
# name, for any command (a bench, the demo): every sys_enter and
# sched_switch event is recorded (perf's tracepoints, not samples), so the
# counts are exact and the same from run to run where the work is. On a
# paravirtualised guest a system call or a switch costs 1-3 µs of CPU, so
# these counts explain much of the kernel share of a profile. Needs perf
# (Debian: linux-perf) and the right to trace (root, or
# kernel.perf_event_paranoid <= -1).
#
#   bench/syscalls.sh OPS COMMAND [ARGS...]
#   bench/syscalls.sh 3000 build/release/bench/bench_maf 3000 16 10
#
# OPS divides every count (the number of operations the threads of
# interest did, e.g. the associations of bench_maf). Threads are grouped by
# name (docs/operations.md "Threads"; the benches name theirs m2m-client,
# bare-client, bare-server). The last line is one JSON object:
# {"bench":"syscalls","ops":N,"threads":{NAME:{"syscalls":x,"switches":y,"top":{SYSCALL:z,...}}}}.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,18p' "$0" >&2; exit 2; }
OPS="$1"
shift
command -v perf > /dev/null || { echo "syscalls.sh: perf not found (Debian: apt-get install linux-perf)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
perf record -q -e raw_syscalls:sys_enter -e sched:sched_switch -o "$out/perf.data" -- "$@" > "$out/stdout" 2>&1 || {
  echo "syscalls.sh: the command failed:" >&2
  tail -5 "$out/stdout" >&2
  exit 1
}
perf script -i "$out/perf.data" -F comm,event,trace 2> /dev/null | python3 -c '
import collections, json, re, sys
ops = float(sys.argv[1])
# x86_64 numbers of the calls the servers and benches make (elsewhere the
# numbers are printed as they are).
names = {0: "read", 1: "write", 3: "close", 7: "poll", 8: "lseek", 9: "mmap", 10: "mprotect", 11: "munmap",
         12: "brk", 13: "rt_sigaction", 14: "rt_sigprocmask", 16: "ioctl", 17: "pread64", 18: "pwrite64",
         20: "writev", 21: "access", 28: "madvise", 39: "getpid", 41: "socket", 42: "connect", 43: "accept",
         44: "sendto", 45: "recvfrom", 46: "sendmsg", 47: "recvmsg", 54: "setsockopt", 55: "getsockopt",
         59: "execve", 60: "exit", 72: "fcntl", 74: "fsync", 75: "fdatasync", 202: "futex", 228: "clock_gettime",
         232: "epoll_wait", 233: "epoll_ctl", 257: "openat", 262: "newfstatat", 281: "epoll_pwait",
         286: "timerfd_settime", 288: "accept4", 290: "eventfd2", 291: "epoll_create1"}
if sys.argv[2] != "x86_64":
    names = {}
calls = collections.defaultdict(collections.Counter)
switches = collections.Counter()
for line in sys.stdin:
    parts = line.split(None, 1)
    if len(parts) < 2:
        continue
    comm, rest = parts
    if "sched_switch" in rest:
        switches[comm] += 1
        continue
    m = re.search(r"NR (\d+)", rest)
    if m:
        n = int(m.group(1))
        calls[comm][names.get(n, "nr%d" % n)] += 1
rows = {}
for comm in sorted(calls, key=lambda c: -sum(calls[c].values())):
    total = sum(calls[comm].values())
    if total / ops < 0.05:
        continue
    top = {k: round(v / ops, 2) for k, v in calls[comm].most_common(8)}
    rows[comm] = {"syscalls": round(total / ops, 1), "switches": round(switches[comm] / ops, 2), "top": top}
    print("%-16s %6.1f syscalls/op %5.2f switches/op  %s" % (comm, total / ops, switches[comm] / ops,
          " ".join("%s=%.2f" % kv for kv in top.items())))
print(json.dumps({"bench": "syscalls", "ops": int(ops), "threads": rows}, separators=(",", ":")))
' "$OPS" "$(uname -m)"
