"""Counted checks for the integration scripts that need no harness.

    import checks
    from checks import check
    check(cond, "what should hold")   # prints FAIL: <what> when it does not
    sys.exit(checks.summary("my_test"))  # prints the counts; 1 if any failed
"""
import sys

passed, failed = 0, 0


def check(cond, what):
    """check counts |cond|; a false one prints FAIL with |what| on stderr. Returns bool(cond)."""
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, file=sys.stderr, flush=True)
    return bool(cond)


def summary(name):
    """summary prints |name|'s counts and returns the exit status: 1 if any check failed."""
    print(f"{name}: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0
