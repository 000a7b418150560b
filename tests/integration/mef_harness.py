"""mef_harness.py: shared plumbing for the integration.mef_* tests.

Each test runs the real m2msec binary: a MEF ("m2msec mef serve --json",
ports picked by the kernel and read from its ready line) and devices
("m2msec enrol"), all on loopback, in a fresh temporary directory with a
fresh PKI (pki.py). Checks are counted; finish() prints "N passed, N
failed" and exits non-zero on any failure. Every MEF process and command
is watched (proc_watch.py): a sanitizer report in its output, or an exit
the test did not ask for, is a failed check.
"""
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pki  # noqa: E402
import proc_watch  # noqa: E402
import store_backend  # noqa: E402

MEF_FQDN = "mef.example.com"
MAF = "maf.example.com"
MAF2 = "maf2.example.com"
CMD_TIMEOUT = 60
READY_TIMEOUT = 30


class Harness:
    """Harness owns a temp dir with a PKI and a MEF config, and the checks."""

    def __init__(self, m2msec, name):
        self.m2msec = os.path.abspath(m2msec)
        self.name = name
        self.passed = 0
        self.failed = 0
        self.servers = []
        self.watch = proc_watch.Watch()
        self.dir = tempfile.mkdtemp(prefix=f"m2msec-{name}-")
        self.pki = os.path.join(self.dir, "pki")
        old = os.umask(0o077)
        try:
            pki.make_pki(self.pki)
        finally:
            os.umask(old)
        self.config = os.path.join(self.dir, "mef.toml")
        with open(self.config, "w") as f:
            f.write(f"""[mef]
fqdn = "{MEF_FQDN}"
sp_domain = "{pki.SP_DOMAIN}"
tls_listen = "127.0.0.1:0"
dtls_listen = "127.0.0.1:0"
data_dir = "data"
certificate = "pki/mef.crt"
private_key = "pki/mef.key"
trust_anchors = "pki/ca.crt"
device_trust_anchors = "pki/device-anchors.crt"
[[mef.maf]]
fqdn = "{MAF}"
address = "127.0.0.1:9999"
[[mef.maf]]
fqdn = "{MAF2}"
address = "127.0.0.1:9998"
""" + store_backend.store_table("mef"))
        self.data_dir = os.path.join(self.dir, "data")

    # -- checks ---------------------------------------------------------
    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print("ok:", what)
        else:
            self.failed += 1
            print("FAIL:", what, ("-- " + detail) if detail else "")
        sys.stdout.flush()
        return cond

    def finish(self):
        for s in list(self.servers):
            s.kill()
        problems = self.watch.problems()
        self.check(not problems, f"no sanitizer report or unasked exit in {len(self.watch.procs)} server processes",
                   "; ".join(problems))
        print(f"{self.passed} passed, {self.failed} failed")
        if self.failed == 0:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print("kept", self.dir)
        sys.exit(1 if self.failed else 0)

    def main(self, body):
        """main runs body(self), counting an exception as a failure, always finishing."""
        try:
            body(self)
        except Exception:  # noqa: BLE001 - reported as a failed check
            self.check(False, "no exception", traceback.format_exc())
        finally:
            self.finish()

    # -- processes --------------------------------------------------------
    def run(self, args, stdin=None, timeout=CMD_TIMEOUT):
        """run returns (exit code, stdout, stderr) of one m2msec command."""
        p = subprocess.run([self.m2msec] + args, input=stdin, capture_output=True, text=True, timeout=timeout)
        reports = proc_watch.sanitizer_reports(p.stderr)
        if reports:
            self.check(False, f"no sanitizer report from m2msec {' '.join(args[:3])}", "; ".join(reports))
        return p.returncode, p.stdout, p.stderr

    def mef(self, args, timeout=CMD_TIMEOUT):
        """mef runs "m2msec mef <args> --config <config>"."""
        return self.run(["mef"] + args + ["--config", self.config], timeout=timeout)

    def mef_json(self, args):
        rc, out, err = self.mef(args + ["--json"])
        if rc != 0:
            raise RuntimeError(f"mef {' '.join(args)}: exit {rc}: {err.strip()}")
        return json.loads(out)

    def start_mef(self):
        s = Mef(self)
        self.servers.append(s)
        return s

    # -- files --------------------------------------------------------------
    def pki_cse(self, name, ca="device-ca", expired=False):
        """pki_cse issues a (device) CSE-ID certificate for "/<name>" and returns its dNSName."""
        old = os.umask(0o077)
        try:
            return pki.make_cse(self.pki, name, ca=ca, expired=expired)
        finally:
            os.umask(old)

    def secret_file(self, name, text, mode=0o600):
        path = os.path.join(self.dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def new_kpm(self, name):
        """new_kpm writes a random 32-byte Kpm (hex, 0600) and returns (path, hex)."""
        hexkey = secrets.token_hex(32)
        return self.secret_file(name + ".kpm", hexkey + "\n"), hexkey

    def add_psk_enrolee(self, enrolee_id, kpm_id, target=MAF, expiry=None):
        path, hexkey = self.new_kpm(kpm_id.split("@")[0])
        args = ["enrolee", "add", "--enrolee-id", enrolee_id, "--kpm-id", kpm_id, "--kpm-file", path, "--target", target]
        if expiry:
            args += ["--expiry", expiry]
        rc, out, err = self.mef(args)
        if rc != 0:
            raise RuntimeError(f"enrolee add {enrolee_id}: exit {rc}: {err.strip()}")
        return path, hexkey

    def enrol(self, port, state, kpm_id=None, kpm_file=None, cert=None, maf=MAF, dtls=False, json_out=True):
        """enrol runs "m2msec enrol" against 127.0.0.1:port; returns (rc, out, err)."""
        args = ["enrol", "--mef", f"127.0.0.1:{port}", "--mef-fqdn", MEF_FQDN, "--state", os.path.join(self.dir, state),
                "--timeout-ms", "10000"]
        if maf:
            args += ["--maf", maf]
        if kpm_id:
            args += ["--kpm-id", kpm_id, "--kpm-file", kpm_file]
        if cert:
            args += ["--cert", os.path.join(self.pki, cert + ".crt"), "--key", os.path.join(self.pki, cert + ".key"),
                     "--ca", os.path.join(self.pki, "ca.crt")]
        if dtls:
            args.append("--dtls")
        if json_out:
            args.append("--json")
        return self.run(args)

    def expect_refusal(self, what, result, needle):
        """expect_refusal checks exit 1 and one clear error line containing |needle| (case-insensitive)."""
        rc, out, err = result
        lines = [ln for ln in err.splitlines() if ln.strip()]
        self.check(rc == 1, f"{what}: exit 1", f"exit {rc}, stderr {err.strip()!r}")
        self.check(len(lines) == 1 and lines[0].startswith("m2msec: error: "), f"{what}: one error line on stderr",
                   repr(err))
        self.check(needle.lower() in err.lower(), f"{what}: error says '{needle}'", repr(err.strip()))
        self.check(out.strip() == "", f"{what}: nothing on stdout", repr(out))


class Mef:
    """Mef is one "m2msec mef serve --json" process."""

    def __init__(self, h):
        self.h = h
        self.log = open(os.path.join(h.dir, "mef.log"), "a")
        self.p = subprocess.Popen([h.m2msec, "mef", "serve", "--config", h.config, "--json", "--log-level", "info"],
                                  stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.watched = h.watch.add("mef serve", self.p, [self.log.name])
        ready, _, _ = select.select([self.p.stdout], [], [], READY_TIMEOUT)
        line = self.p.stdout.readline() if ready else ""
        if not line:
            self.kill()
            raise RuntimeError("mef serve printed no ready line; log:\n" + self.log_text())
        j = json.loads(line)
        self.tls_port = j["tls_port"]
        self.dtls_port = j["dtls_port"]

    def log_text(self):
        with open(self.log.name) as f:
            return f.read()[-4000:]

    def stop(self, timeout=20):
        """stop sends SIGTERM and returns the exit code."""
        self.watched.send(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout)
        finally:
            self.kill()
        return rc

    def kill(self, sig=signal.SIGKILL):
        if self.p.poll() is None:
            self.watched.send(sig)
            self.p.wait(10)
        if self in self.h.servers:
            self.h.servers.remove(self)
        self.log.close()


def file_mode(path):
    return os.stat(path).st_mode & 0o777


def read_hex(path):
    with open(path) as f:
        return f.read().strip().lower()


def wait_until(cond, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()
