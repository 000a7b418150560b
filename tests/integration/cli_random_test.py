#!/usr/bin/env python3
"""Runs the real m2msec binary on random inputs and compares every
`m2msec derive` output with Python's hmac/hashlib/unicodedata/base64.
Also checks the CLI's error contract: one line on stderr, exit code 2.

Usage: cli_random_test.py PATH/TO/m2msec [ROUNDS]
"""
import base64
import hashlib
import hmac
import json
import os
import random
import subprocess
import sys
import tempfile
import unicodedata

M2MSEC = sys.argv[1]
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 25
FAILURES = []
PASSED = 0

# Characters that exercise NFKC: ASCII (both cases), full-width forms,
# ligatures, combining accents, superscripts, Roman numerals, CJK
# compatibility.
ALPHABET = ("abcdefghijklmnopqrstuvwxyzAMZ0123456789-./" "\uff41\uff42\uff10\ufb01\ufb02"
            "\u0301\u0308\u00e9\u00b2\u2167\u212b\u3300\u00c5")
ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def check(cond, what):
    global PASSED
    if cond:
        PASSED += 1
    else:
        FAILURES.append(what)
        print("FAIL:", what, file=sys.stderr)


def run(args, stdin=None):
    p = subprocess.run([M2MSEC] + args, input=stdin, capture_output=True, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def h(key, msg):
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def nfkc(s):
    return unicodedata.normalize("NFKC", s).encode()


def maf_id(s):
    """maf_id is the MAF-ID the MEF derives Km with: ASCII letters lowercased (str.lower would fold more)."""
    return s.translate(ASCII_LOWER)


def keyfile(d, data, mode=0o600):
    fd, path = tempfile.mkstemp(dir=d)
    os.write(fd, data.hex().encode() + b"\n")
    os.close(fd)
    os.chmod(path, mode)
    return path


def rand_id(rng):
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 24)))


def expect_usage_error(args, what, stdin=None, needle=None, one_line=False):
    rc, out, err = run(args, stdin)
    lines = [l for l in err.splitlines() if l.strip()]
    check(rc == 2, f"{what}: exit {rc}, want 2")
    check(out == "", f"{what}: stdout not empty")
    check(len(lines) >= 1 and lines[0].startswith("m2msec: error: "), f"{what}: stderr {err!r}")
    if one_line:
        check(len(lines) == 1, f"{what}: one error line, got {err!r}")
    if needle:
        check(needle in err, f"{what}: stderr lacks {needle!r}: {err!r}")


def main():
    rng = random.Random(int.from_bytes(os.urandom(8), "big"))
    with tempfile.TemporaryDirectory() as d:
        for _ in range(ROUNDS):
            ke = os.urandom(32)
            kf = keyfile(d, ke)
            ident = rand_id(rng)
            want = h(ke, b"oneM2M Enrolment Key to Master Credential derivation" + nfkc(maf_id(ident)))
            rc, out, _ = run(["derive", "km", "--ke-file", kf, "--maf-id", ident])
            check(rc == 0 and out.strip() == want, f"km {ident!r}")
            rc, out, _ = run(["derive", "km", "--ke-file", kf, "--maf-id", ident, "--json"])
            check(rc == 0 and json.loads(out) == {"km": want}, f"km --json {ident!r}")

            want = h(ke, b"oneM2M Enrolment Key to Provisioned Secure Connection Key derivation" + nfkc(ident))
            rc, out, _ = run(["derive", "kpsa", "--ke-file", kf, "--enrolee-b-id", ident])
            check(rc == 0 and out.strip() == want, f"kpsa {ident!r}")
            # '-' reads the key from stdin.
            rc, out, _ = run(["derive", "kpsa", "--ke-file", "-", "--enrolee-b-id", ident, "--json"],
                             stdin=ke.hex().encode())
            check(rc == 0 and json.loads(out) == {"kpsa": want}, f"kpsa stdin {ident!r}")

            suid = rng.randint(1, 999)
            want = h(ke, b"oneM2M Enrolment Key to Usage-Constrained Symmetric Key derivation"
                     + str(suid).encode() + nfkc(ident))
            rc, out, _ = run(["derive", "usage-key", "--ke-file", kf, "--suid", str(suid),
                              "--target-id", ident, "--json"])
            check(rc == 0 and json.loads(out) == {"key": want}, f"usage-key {suid} {ident!r}")

            master = hmac.new(nfkc(ident), ke, hashlib.sha256).digest()
            t, prev = [], b""
            for i, label in enumerate([b"E2E Message Authentication Key", b"E2E Message Confidentiality Key",
                                       b"E2E Attribute Authenticity Key", b"E2E Attribute Confidentiality Key"], 1):
                prev = hmac.new(master, prev + label + bytes([i]), hashlib.sha256).digest()
                t.append(prev.hex())
            rc, out, _ = run(["derive", "e2e", "--kpsa-file", kf, "--source-id", ident, "--json"])
            check(rc == 0 and json.loads(out) == {"master": master.hex(), "msg_auth": t[0], "msg_conf": t[1],
                                                  "att_auth": t[2], "att_conf": t[3]}, f"e2e {ident!r}")

            ex = os.urandom(48)
            ef = keyfile(d, ex)
            fqdn = rng.choice(["mef.example.com", "maf.sp.example.org", "MAF.Example.NET"])
            for enc, rel in (("base64", base64.b64encode(ex[:16]).decode()), ("hex", ex[:16].hex())):
                rc, out, _ = run(["derive", "split", "--exported-file", ef, "--fqdn", fqdn,
                                  "--id-encoding", enc, "--json"])
                check(rc == 0 and json.loads(out) == {"key": ex[16:].hex(), "id": rel + "@" + fqdn},
                      f"split {enc}")
            rc, out, _ = run(["derive", "split", "--exported-file", ef, "--fqdn", fqdn])
            check(rc == 0 and out.split() == ["key", ex[16:].hex(), "id",
                                               base64.b64encode(ex[:16]).decode() + "@" + fqdn], "split text")

        # The MAF-ID is formed as the MEF forms it: a mixed-case MAF-FQDN gives the Km of the lowercase one.
        ke = os.urandom(32)
        kf = keyfile(d, ke)
        want = h(ke, b"oneM2M Enrolment Key to Master Credential derivation" + b"maf.example.com")
        for spelling in ("maf.example.com", "MAF.Example.COM"):
            rc, out, _ = run(["derive", "km", "--ke-file", kf, "--maf-id", spelling])
            check(rc == 0 and out.strip() == want, f"km {spelling} is the Km of maf.example.com")

        good = keyfile(d, os.urandom(32))
        # Error contract.
        expect_usage_error(["derive", "km", "--maf-id", "x"], "missing --ke-file", needle="--ke-file")
        expect_usage_error(["derive", "km", "--ke-file", d + "/absent", "--maf-id", "x"], "missing file",
                           needle="I/O error")
        expect_usage_error(["derive", "km", "--ke-file", keyfile(d, os.urandom(32), 0o644), "--maf-id", "x"],
                           "world-readable key", needle="0600")
        expect_usage_error(["derive", "km", "--ke-file", keyfile(d, os.urandom(31)), "--maf-id", "x"],
                           "short key", needle="want 32")
        bad = os.path.join(d, "badhex")
        with open(bad, "w") as f:
            f.write("zz" * 32)
        os.chmod(bad, 0o600)
        expect_usage_error(["derive", "km", "--ke-file", bad, "--maf-id", "x"], "bad hex", needle="invalid hex")
        expect_usage_error(["derive", "km", "--ke-file", good, "--maf-id", os.fsdecode(b"\xff\xfe")],
                           "invalid utf-8 id", needle="UTF-8")
        expect_usage_error(["derive", "split", "--exported-file", good, "--fqdn", "mef.example.com"],
                           "split needs 48 bytes", needle="want 48")
        expect_usage_error(["derive", "split", "--exported-file", keyfile(d, os.urandom(48)), "--fqdn",
                            "*.example.com"], "wildcard fqdn", needle="FQDN")
        expect_usage_error(["derive", "split", "--exported-file", keyfile(d, os.urandom(48)), "--fqdn",
                            "mef.example.com", "--id-encoding", "base32"], "bad encoding")
        expect_usage_error(["derive", "usage-key", "--ke-file", good, "--suid", "0", "--target-id", "a.b"],
                           "suid 0", needle="SUID")
        expect_usage_error(["derive", "km", "--ke-file", good, "--maf-id", "x", "--bogus"], "unknown flag")
        # An empty identifier is refused by every derivation that takes one.
        for args, opt in ((["km", "--ke-file", good], "--maf-id"), (["kpsa", "--ke-file", good], "--enrolee-b-id"),
                          (["usage-key", "--ke-file", good, "--suid", "32"], "--target-id"),
                          (["e2e", "--kpsa-file", good], "--source-id")):
            expect_usage_error(["derive"] + args + [opt, ""], f"derive {args[0]} {opt} ''",
                               needle=f"{opt} must not be empty", one_line=True)
        expect_usage_error(["id", "check", "--kind", "kcid", "abc@maf.example.com"], "bad kcid",
                           needle="invalid identifier")
        expect_usage_error([], "no command")
        rc, out, _ = run(["id", "check", "--kind", "kmid", "Dev1@MAF.example.com", "--json"])
        check(rc == 0 and json.loads(out)["canonical"] == "dev1@maf.example.com", "id check kmid")
        rc, out, _ = run(["derive", "--help"])
        check(rc == 0 and "10.3.2" in out, "derive --help")
        # The Km-based "app-key" derivation was withdrawn: the M2M Application
        # Key is the Kpsa whose Enrolee B is the AE's registrar CSE ("derive kpsa").
        check("app-key" not in out, "derive --help no longer lists app-key")
        expect_usage_error(["derive", "app-key", "--km-file", good, "--ae-id", "Cae"], "derive app-key is gone")

    print(f"cli_random_test: {PASSED} passed, {len(FAILURES)} failed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
