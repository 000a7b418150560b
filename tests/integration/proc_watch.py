#!/usr/bin/env python3
"""proc_watch.py: fail a test when a process it started reports a sanitizer error or dies unasked.

The asan/tsan builds print their findings on the process's stderr and
(with abort_on_error or a killed process) may never turn them into an
exit code the test looks at. Every harness that starts a long-running
m2msec process (mef_harness.py, saef_harness.py, tests/interop) registers
it here with the files its output goes to; at teardown problems() reports

  * every line of those files that holds a sanitizer marker (MARKERS), and
  * an exit the test did not ask for: a process that ended on its own with
    a non-zero code or a signal, one that did not exit 0 after SIGTERM or
    SIGINT (a graceful stop), or one that ended some other way after
    SIGKILL.

Short commands (subprocess.run) are checked with sanitizer_reports() on
their captured output. Run this file to execute its self-test, which
starts real processes that misbehave and checks that each is reported.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

# What ASan, LSan, UBSan (-fsanitize=undefined prints "<file>:<line>:<col>:
# runtime error: ...") and TSan print when they find something.
MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "ThreadSanitizer")


def sanitizer_reports(text):
    """sanitizer_reports returns the lines of |text| that hold a sanitizer marker."""
    return [ln.strip() for ln in text.splitlines() if any(m in ln for m in MARKERS)]


def describe(rc):
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            return f"signal {signal.Signals(-rc).name}"
        except ValueError:
            return f"signal {-rc}"
    return f"exit code {rc}"


def exit_problem(name, rc, sent):
    """exit_problem returns what is wrong with exit status |rc| of a process that was sent |sent|
    (None: the test never asked it to stop), or None if nothing is."""
    if rc is None:
        return None
    if sent is None:
        return None if rc == 0 else f"{name} ended on its own with {describe(rc)}"
    if sent in (signal.SIGTERM, signal.SIGINT):
        return None if rc == 0 else f"{name} ended with {describe(rc)} after {signal.Signals(sent).name}, want exit 0"
    if sent == signal.SIGKILL:
        return None if rc in (0, -signal.SIGKILL) else f"{name} ended with {describe(rc)} after SIGKILL"
    return None if rc in (0, -sent) else f"{name} ended with {describe(rc)} after {signal.Signals(sent).name}"


class Watched:
    """Watched is one started process, the files its output goes to, and the signal the test sent it."""

    def __init__(self, name, popen, log_paths):
        self.name = name
        self.p = popen
        self.log_paths = list(log_paths)
        self.sent = None

    def send(self, sig):
        """send delivers |sig| if the process still runs, and remembers that the test asked for it."""
        if self.p.poll() is None:
            # The first signal counts: a SIGKILL after an unheeded SIGTERM
            # still leaves a stop that was not graceful.
            if self.sent is None:
                self.sent = sig
            self.p.send_signal(sig)


class Watch:
    """Watch holds every process a test started (also the ones already stopped)."""

    def __init__(self):
        self.procs = []

    def add(self, name, popen, log_paths):
        w = Watched(name, popen, log_paths)
        self.procs.append(w)
        return w

    def problems(self):
        """problems returns one line per sanitizer report or unasked exit, over all processes."""
        out = []
        seen = set()
        for w in self.procs:
            for path in w.log_paths:
                if path in seen or not os.path.exists(path):
                    continue
                seen.add(path)
                with open(path, errors="replace") as f:
                    for line in sanitizer_reports(f.read()):
                        out.append(f"{os.path.basename(path)}: {line[:300]}")
            problem = exit_problem(w.name, w.p.poll(), w.sent)
            if problem:
                out.append(problem)
        return out


def self_test():
    """self_test starts misbehaving processes and checks that each is reported (and a clean one is not)."""
    failures = []

    def expect(cond, what):
        print(("ok: " if cond else "FAIL: ") + what)
        if not cond:
            failures.append(what)

    with tempfile.TemporaryDirectory() as d:
        def start(name, code):
            log = os.path.join(d, name + ".log")
            with open(log, "w") as f:
                p = subprocess.Popen([sys.executable, "-c", code], stdout=f, stderr=subprocess.STDOUT)
            return p, log

        asan_line = "==42==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010"
        cases = {
            "asan": (f"import sys; sys.stderr.write({asan_line!r} + '\\n')", None),
            "ubsan": ("print('src/x.cc:3:5: runtime error: signed integer overflow')", None),
            "tsan": ("print('WARNING: ThreadSanitizer: data race (pid=1)')", None),
            "lsan": ("print('==7==ERROR: LeakSanitizer: detected memory leaks')", None),
            "crash": ("import sys; sys.exit(3)", None),
            "hang": ("import time; time.sleep(60)", signal.SIGKILL),
            "termfail": ("import signal, sys, time\n"
                         "signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))\n"
                         "print('ready', flush=True); time.sleep(60)", signal.SIGTERM),
        }
        clean = {"clean": ("print('listening')", None),
                 "killed": ("import time; time.sleep(60)", signal.SIGKILL),
                 "stopped": ("import signal, sys, time\n"
                             "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
                             "print('ready', flush=True); time.sleep(60)", signal.SIGTERM)}
        for name, (code, sig) in list(cases.items()) + list(clean.items()):
            watch = Watch()
            p, log = start(name, code)
            w = watch.add(name, p, [log])
            if sig is not None:
                if sig == signal.SIGTERM:  # wait for the handler to be installed
                    for _ in range(200):
                        with open(log) as f:
                            if "ready" in f.read():
                                break
                        time.sleep(0.05)
                w.send(sig)
            p.wait(30)
            probs = watch.problems()
            if name in cases and name != "hang":
                expect(len(probs) == 1, f"{name}: reported ({probs})")
            elif name == "hang":
                expect(probs == [], f"hang killed by the test with SIGKILL: not reported ({probs})")
            else:
                expect(probs == [], f"{name}: not reported ({probs})")
        expect(exit_problem("x", -9, signal.SIGTERM) is not None, "SIGTERM not obeyed (escalated to SIGKILL): reported")
    print(f"proc_watch self-test: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(self_test())
