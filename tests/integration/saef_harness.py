"""saef_harness.py: shared plumbing for the integration.saef_* tests.

A Saef deployment is the real m2msec binary in separate processes on
loopback: "m2msec mef serve", "m2msec maf serve" (maf.example.com and, on
request, a second MAF maf2.example.com with its own port and data dir) and
"m2msec cse serve" (Entity B, /in-cse), all started with --log-level
debug, plus devices run with "m2msec enrol" / "m2msec associate". Ports
are fixed free ports picked before the configuration is written (the MEF
must know the MAF's address, Entity B the MAF's and the MEF's), and every
byte any process writes (server stdout/stderr, command stdout/stderr) is
kept so that scan_secrets() can check that no key appears in any of it.

Certificates come from pki.py: mef/maf/maf2 and in-cse from the
infrastructure CA (trust_anchors), the device CSE-ID certificate dev-c from
the device CA (device_trust_anchors, on all three listeners). Checks are
counted; finish() kills every server, prints "N passed, N failed" and
exits non-zero on any failure. Every server and
command is watched (proc_watch.py): a sanitizer report in its output, or
an exit the test did not ask for, is a failed check.
"""
import base64
import glob
import json
import os
import secrets
import shutil
import signal
import socket
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
CSE_ID = "/in-cse"
CSE_FQDN = "in-cse." + pki.SP_DOMAIN
OPERATOR_KPSA_ID = "dev-9@" + pki.SP_DOMAIN
PROBE_KPSA_ID = "probe@" + pki.SP_DOMAIN  # a throw-away Kpsa for openssl s_client controls
CMD_TIMEOUT = 60
READY_TIMEOUT = 60
CONNECT_SUITE = "PSK-AES128-CBC-SHA256"


def _picked_port_range():
    """_picked_port_range is where free_port picks: ports the kernel never hands out on its own.

    An outgoing connection takes its local port from the ephemeral range
    (net.ipv4.ip_local_port_range, 32768-60999 by default). A port picked
    there and released can be taken by a connection of a test running
    alongside before the server that was given it binds it ("Address
    already in use"); a port outside the range cannot.
    """
    low, high = 32768, 60999
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
            low, high = (int(x) for x in f.read().split()[:2])
    except (OSError, ValueError):
        pass
    if low - 1 >= 11000:
        return 10000, low - 1
    if high + 1 <= 64535:
        return high + 1, 65534
    return None  # the ephemeral range covers nearly everything: let the kernel pick


def _bindable(port):
    """_bindable is true if 127.0.0.1:port is free for both TCP and UDP."""
    socks = []
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            socks.append(s)
            s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


_reserved = {}  # port -> the socket that holds it for this process's life


def _reserve(port):
    """_reserve claims port for this process: not handed out twice here, nor by another test's free_port.

    A port is only bound once its server starts, so a pick alone does not
    keep it: two picks of one test (a dozen ports for a replica set) or of
    two tests running alongside could meet. Each pick therefore binds a
    Unix socket in the abstract namespace named after the port, which only
    one process can hold, and keeps it until this process ends; the kernel
    releases it then, however the process ends, and leaves no file behind.
    """
    if port in _reserved:
        return False
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.bind(f"\0m2msec-test-port-{port}")
    except OSError:
        s.close()
        return False
    _reserved[port] = s
    return True


def free_port(pair=False):
    """free_port returns a port that is free for both TCP and UDP on 127.0.0.1 (with pair, port + 1 too).

    It is picked at random outside the ephemeral range (_picked_port_range),
    so no outgoing connection takes it before its server binds, and it is
    reserved (_reserve) so that no other pick of this or another test does.
    """
    span = _picked_port_range()
    rng = secrets.SystemRandom()
    for _ in range(200):
        if span is None:  # let the kernel pick, as a last resort
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        else:
            port = rng.randint(span[0], span[1] - 1)
        ports = (port, port + 1) if pair else (port,)
        if port < 65535 and all(_bindable(p) for p in ports) and all(_reserve(p) for p in ports):
            return port
    raise RuntimeError("no free port")


def wait_until(cond, timeout, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


class Server:
    """Server is one "m2msec <role> serve --json --log-level debug" process, or with role None the
    all-in-one "m2msec serve" (its ready line nests each role's ports under the role's name)."""

    def __init__(self, h, role, config, name):
        self.h = h
        self.name = name
        self.out_path = os.path.join(h.logs, f"{name}-{len(h.all_logs)}.out")
        self.err_path = os.path.join(h.logs, f"{name}-{len(h.all_logs)}.log")
        h.all_logs += [self.out_path, self.err_path]
        self.out = open(self.out_path, "w")
        self.err = open(self.err_path, "w")
        command = [role, "serve"] if role else ["serve"]
        self.p = subprocess.Popen([h.m2msec] + command + ["--config", config, "--json", "--log-level", "debug"],
                                  stdout=self.out, stderr=self.err, stdin=subprocess.DEVNULL)
        self.watched = h.watch.add(f"{name} serve", self.p, [self.out_path, self.err_path])
        h.servers.append(self)

        def ready():
            if self.p.poll() is not None:
                return "exited"
            with open(self.out_path) as f:
                line = f.readline()
            return line if line.endswith("\n") else None

        line = wait_until(ready, READY_TIMEOUT)
        if not line or line == "exited":
            self.kill()
            raise RuntimeError(f"{name} printed no ready line; log:\n" + self.log_text())
        j = json.loads(line)
        if role is None:
            self.ports = {r: j[r] for r in ("mef", "maf", "cse") if r in j}
            return
        self.tls_port = j["tls_port"]
        self.dtls_port = j["dtls_port"]
        self.admin_port = j.get("admin_port", 0)

    def log_text(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.p.poll() is None

    def kill(self, sig=signal.SIGTERM):
        """kill stops the process (SIGTERM, then SIGKILL after 15 s) and returns its exit code."""
        if self.p.poll() is None:
            self.watched.send(sig)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)
        if self in self.h.servers:
            self.h.servers.remove(self)
        self.out.close()
        self.err.close()
        return self.p.returncode


class Saef:
    """Saef owns a temp dir with a PKI, one all.toml ([mef], [maf], [cse]), maf2.toml, and the checks."""

    def __init__(self, m2msec, name, kc_lifetime_s=None, csebase="in-name", advertised_maf=None, push_kc=False,
                 admin_drain_ms=None, bsf=False):
        """advertised_maf, if given, is the MAF address the MEF hands out in enrolment instructions
        ([[mef.maf]] address); by default the MAF's real loopback address. push_kc configures the MAF
        to push each new Kc to Entity B ([[maf.cse]], MAF Key Push). admin_drain_ms, if given, gives
        each role a fixed admin port (self.ports["<role>_admin"]) and that drain_ms. bsf turns on the
        MEF's GBA BSF ([mef.bsf]) and its DTLS listener (Ub over TLS and DTLS)."""
        self.m2msec = os.path.abspath(m2msec)
        self.name = name
        self.passed = 0
        self.failed = 0
        self.servers = []
        self.watch = proc_watch.Watch()
        self.all_logs = []
        self.transcript = []  # (what, text) of every command run
        self.dir = tempfile.mkdtemp(prefix=f"m2msec-{name}-")
        self.logs = os.path.join(self.dir, "logs")
        os.makedirs(self.logs)
        self.pki = os.path.join(self.dir, "pki")
        old = os.umask(0o077)
        try:
            pki.make_pki(self.pki)
            pki.make_cse(self.pki, "in-cse")
            pki.make_cse(self.pki, "dev-c", ca="device-ca")
        finally:
            os.umask(old)
        self.ports = {r: free_port() for r in ("mef", "maf", "maf2", "cse")}
        admin = {r: "" for r in ("mef", "maf", "cse")}
        if admin_drain_ms is not None:
            for r in admin:
                self.ports[r + "_admin"] = free_port()
                admin[r] = f'admin_listen = "127.0.0.1:{self.ports[r + "_admin"]}"\ndrain_ms = {admin_drain_ms}\n'

        self.operator_kpsa_file, _ = self.secret_file("dev-9.kpsa.hex", secrets.token_hex(32))
        self.probe_kpsa_file, self.probe_kpsa_hex = self.secret_file("probe.kpsa.hex", secrets.token_hex(32))
        self.config = os.path.join(self.dir, "all.toml")
        kc = f"kc_lifetime_s = {kc_lifetime_s}\n" if kc_lifetime_s else ""
        bsf_table = f'dtls_listen = "127.0.0.1:{self.ports["mef"]}"\n\n[mef.bsf]\nenabled = true\n' if bsf else ""
        if push_kc:
            kc += f'[[maf.cse]]\ncse_id = "{CSE_ID}"\nfqdn = "{CSE_FQDN}"\naddress = "127.0.0.1:{self.ports["cse"]}"\n'
        with open(self.config, "w") as f:
            f.write(f"""[mef]
fqdn = "{MEF_FQDN}"
sp_domain = "{pki.SP_DOMAIN}"
tls_listen = "127.0.0.1:{self.ports['mef']}"
{admin["mef"]}data_dir = "mefdata"
certificate = "pki/mef.crt"
private_key = "pki/mef.key"
trust_anchors = "pki/ca.crt"
device_trust_anchors = "pki/device-anchors.crt"
workers = 4
{bsf_table}
[[mef.maf]]
fqdn = "{MAF}"
address = "{advertised_maf or f"127.0.0.1:{self.ports['maf']}"}"

[[mef.maf]]
fqdn = "{MAF2}"
address = "127.0.0.1:{self.ports['maf2']}"

[maf]
fqdn = "{MAF}"
sp_domain = "{pki.SP_DOMAIN}"
tls_listen = "127.0.0.1:{self.ports['maf']}"
dtls_listen = "127.0.0.1:{self.ports['maf']}"
{admin["maf"]}data_dir = "mafdata"
certificate = "pki/maf.crt"
private_key = "pki/maf.key"
trust_anchors = "pki/ca.crt"
device_trust_anchors = "pki/device-anchors.crt"
workers = 4
{kc}
[[maf.mef]]
fqdn = "{MEF_FQDN}"
address = "127.0.0.1:{self.ports['mef']}"

[cse]
fqdn = "{CSE_FQDN}"
sp_domain = "{pki.SP_DOMAIN}"
cse_id = "{CSE_ID}"
csebase = "{csebase}"
data_dir = "csedata"
audit_file = "cse-audit.jsonl"
tls_listen = "127.0.0.1:{self.ports['cse']}"
dtls_listen = "127.0.0.1:{self.ports['cse']}"
{admin["cse"]}certificate = "pki/in-cse.crt"
private_key = "pki/in-cse.key"
trust_anchors = "pki/ca.crt"
device_trust_anchors = "pki/device-anchors.crt"
workers = 4

[[cse.maf]]
fqdn = "{MAF}"
address = "127.0.0.1:{self.ports['maf']}"

[[cse.mef]]
fqdn = "{MEF_FQDN}"
address = "127.0.0.1:{self.ports['mef']}"

[[cse.kpsa]]
id = "{OPERATOR_KPSA_ID}"
key_file = "dev-9.kpsa.hex"
entity_id = "/dev-9"

[[cse.kpsa]]
id = "{PROBE_KPSA_ID}"
key_file = "probe.kpsa.hex"
entity_id = "/probe"
""" + store_backend.store_table("mef") + store_backend.store_table("maf") + store_backend.store_table("cse"))
        # maf2: a second MAF with its own port and data dir, same MEF. Entity B does not know it.
        self.config2 = os.path.join(self.dir, "maf2.toml")
        with open(self.config2, "w") as f:
            f.write(f"""[maf]
fqdn = "{MAF2}"
sp_domain = "{pki.SP_DOMAIN}"
tls_listen = "127.0.0.1:{self.ports['maf2']}"
data_dir = "maf2data"
certificate = "pki/maf2.crt"
private_key = "pki/maf2.key"
trust_anchors = "pki/ca.crt"
workers = 2

[[maf.mef]]
fqdn = "{MEF_FQDN}"
address = "127.0.0.1:{self.ports['mef']}"
""" + store_backend.store_table("maf"))
        # An operator-provisioned device (8.2.2.1): its state holds the Kpsa and the KpsaID.
        self.operator_state = self.write_state("dev9", {
            "enrolee_id": "/dev-9", "mef_fqdn": "", "ke_id": "", "expiry": 0, "target_kind": "kpsa",
            "target": CSE_ID, "maf_address": "", "key_id": OPERATOR_KPSA_ID, "km_id": "",
            "sp_domain": pki.SP_DOMAIN, "key_lifetime": 0}, {"kpsa": self.read(self.operator_kpsa_file)})
        self.mef = self.maf = self.maf2 = self.cse = None

    # -- checks -----------------------------------------------------------
    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print("ok:", what)
        else:
            self.failed += 1
            print("FAIL:", what, ("-- " + str(detail)[:3000]) if detail else "")
        sys.stdout.flush()
        return bool(cond)

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
        sys.stdout.flush()
        os._exit(1 if self.failed else 0)

    def main(self, body):
        """main runs body(self), counting an exception as a failure; servers are killed in any case."""
        try:
            body(self)
        except Exception:  # noqa: BLE001 - reported as a failed check
            self.check(False, "no exception", traceback.format_exc())
        finally:
            self.finish()

    # -- servers ------------------------------------------------------------
    def start(self, role):
        """start runs one role: "mef", "maf", "maf2" or "cse"."""
        if role == "maf2":
            s = Server(self, "maf", self.config2, "maf2")
        else:
            s = Server(self, role, self.config, role)
        setattr(self, role, s)
        return s

    def start_with(self, role, config):
        """start_with runs one role from another config file (not remembered as self.<role>)."""
        return Server(self, role, config, role + "-alt")

    def start_all(self):
        for role in ("mef", "maf", "cse"):
            self.start(role)

    def stop_all(self):
        """stop_all sends SIGTERM to every server still running and checks each exits 0."""
        for s in list(self.servers):
            name = s.name
            rc = s.kill()
            self.check(rc == 0, f"{name} exits 0 on SIGTERM", f"exit {rc}: {s.log_text()[-2000:]}")

    def server_logs(self):
        text = []
        for p in self.all_logs:
            with open(p, errors="replace") as f:
                text.append(f.read())
        return "\n".join(text)

    # -- commands -------------------------------------------------------------
    def run(self, args, timeout=CMD_TIMEOUT):
        """run returns (exit code, stdout, stderr) of one m2msec command; output is kept for the secret scan."""
        p = subprocess.run([self.m2msec] + args, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        self.transcript.append((" ".join(args[:2]), p.stdout + p.stderr))
        self.no_sanitizer_report(" ".join(args[:2]), p.stderr)
        return p.returncode, p.stdout, p.stderr

    def no_sanitizer_report(self, what, text):
        reports = proc_watch.sanitizer_reports(text)
        if reports:
            self.check(False, f"no sanitizer report from m2msec {what}", "; ".join(reports))

    def spawn(self, args):
        """spawn starts one m2msec command in the background; collect with wait()."""
        p = subprocess.Popen([self.m2msec] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             stdin=subprocess.DEVNULL)
        return p

    def wait(self, p, timeout=CMD_TIMEOUT):
        out, err = p.communicate(timeout=timeout)
        self.transcript.append(("background", out + err))
        self.no_sanitizer_report("(background)", err)
        return p.returncode, out, err

    def json_cmd(self, args):
        rc, out, err = self.run(args + ["--json"])
        if rc != 0:
            raise RuntimeError(f"{' '.join(args[:3])}: exit {rc}: {err.strip()}")
        return json.loads(out)

    def add_enrolee(self, name, target=MAF, expiry=None, entity_id=None):
        """add_enrolee adds a PSK enrolee, /<name> or |entity_id| (an AE-ID such as "Cae1"), with KpmID
        <name, lower case>@factory.example.com; returns (kpm_id, kpm_file)."""
        kpm_id = f"{name.lower()}@factory.example.com"
        path, _ = self.secret_file(name + ".kpm.hex", secrets.token_hex(32))
        args = ["mef", "enrolee", "add", "--config", self.config, "--kpm-id", kpm_id, "--kpm-file", path,
                "--enrolee-id", entity_id or "/" + name, "--target", target]
        if expiry:
            args += ["--expiry", expiry]
        rc, _, err = self.run(args)
        if rc != 0:
            raise RuntimeError(f"enrolee add {name}: exit {rc}: {err.strip()}")
        return kpm_id, path

    def enrol(self, name, target=MAF, expiry=None, entity_id=None):
        """enrol adds enrolee /<name> (or |entity_id|) and enrols it at the running MEF; returns its state dir."""
        kpm_id, path = self.add_enrolee(name, target, expiry, entity_id)
        state = os.path.join(self.dir, "state-" + name)
        args = ["enrol", "--mef", f"127.0.0.1:{self.ports['mef']}", "--mef-fqdn", MEF_FQDN, "--kpm-id", kpm_id,
                "--kpm-file", path, "--state", state, "--json"]
        if target in (MAF, MAF2):
            args += ["--maf", target]
        rc, out, err = self.run(args)
        if rc != 0:
            raise RuntimeError(f"enrol {name}: exit {rc}: {err.strip()}")
        return state

    def associate_args(self, state=None, framework="maf", cse_id=CSE_ID, extra=()):
        args = ["associate", "--cse", f"127.0.0.1:{self.ports['cse']}", "--cse-id", cse_id, "--json",
                "--timeout-ms", "8000"]
        if state:
            args += ["--state", state]
        if framework != "maf":
            args += ["--framework", framework]
        return args + list(extra)

    def associate(self, state=None, framework="maf", cse_id=CSE_ID, extra=()):
        """associate runs "m2msec associate"; returns (rc, parsed JSON or None, stderr)."""
        rc, out, err = self.run(self.associate_args(state, framework, cse_id, extra))
        try:
            j = json.loads(out) if out.strip() else None
        except json.JSONDecodeError:
            j = None
        return rc, j, err

    def request(self, state, framework, request, dtls=False, to=None, ty=None, content=None, origin=None):
        """request associates and sends one CSE request ("m2msec associate --request ..."): create-ae,
        create (|ty|, |content| a JSON value), retrieve, update or delete of |to|, as |origin| if given;
        returns what associate() returns."""
        extra = ["--request", request]
        if to:
            extra += ["--to", to]
        if ty:
            extra += ["--ty", str(ty)]
        if content is not None:
            extra += ["--content", json.dumps(content)]
        if origin:
            extra += ["--from", origin]
        if dtls:
            extra += ["--dtls"]
        return self.associate(state, framework=framework, extra=extra)

    def expect_rsc(self, what, rsc, result):
        """expect_rsc checks a request's RSC (exit 0 for 2xxx, 1 otherwise); returns its response body."""
        rc, j, err = result
        got = j.get("rsc") if j else None
        self.check(got == rsc and (rc == 0) == (rsc < 3000), f"{what}: RSC {rsc}",
                   f"exit {rc}, json {j}, stderr {err.strip()!r}")
        return (j or {}).get("response") or {}

    def expect_ok(self, what, result, rsc=2000):
        rc, j, err = result
        ok = self.check(rc == 0 and j is not None and j.get("rsc") == rsc, f"{what}: exit 0, RSC {rsc}",
                        f"exit {rc}, json {j}, stderr {err.strip()!r}")
        return j if ok else None

    def expect_refusal(self, what, result, needle=None):
        """expect_refusal checks exit 1, one 'm2msec: error:' line on stderr, nothing on stdout."""
        rc, j, err = result
        lines = [ln for ln in err.splitlines() if ln.strip()]
        self.check(rc == 1, f"{what}: exit 1", f"exit {rc}, stderr {err.strip()!r}")
        self.check(len(lines) == 1 and lines[0].startswith("m2msec: error: "), f"{what}: one clear error line",
                   repr(err))
        self.check(j is None, f"{what}: no result on stdout", repr(j))
        if needle:
            self.check(needle.lower() in err.lower(), f"{what}: error says '{needle}'", repr(err.strip()))

    def openssl_psk(self, identity, psk_hex, dtls=False):
        """openssl_psk runs an openssl s_client PSK handshake against Entity B; True if it completed."""
        args = ["openssl", "s_client", "-connect", f"127.0.0.1:{self.ports['cse']}", "-psk_identity", identity,
                "-psk", psk_hex, "-cipher", CONNECT_SUITE, "-servername", CSE_FQDN]
        args += ["-dtls1_2"] if dtls else ["-tls1_2"]
        p = subprocess.run(args, input="", capture_output=True, text=True, timeout=30)
        out = p.stdout + p.stderr
        return p.returncode == 0 and f"Cipher is {CONNECT_SUITE}" in out, out

    def maf_keys(self, config=None):
        return self.json_cmd(["maf", "keys", "--config", config or self.config])["keys"]

    def maf_clients(self, config=None):
        return self.json_cmd(["maf", "clients", "--config", config or self.config])["clients"]

    # -- files ----------------------------------------------------------------
    def secret_file(self, name, text):
        path = os.path.join(self.dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")
        return path, text

    @staticmethod
    def read(path):
        with open(path) as f:
            return f.read().strip()

    def write_state(self, name, state, keys):
        d = os.path.join(self.dir, "state-" + name)
        os.makedirs(d, mode=0o700, exist_ok=True)
        self.secret_file(os.path.join(d, "state.json"), json.dumps(state, indent=2))
        for k, v in keys.items():
            self.secret_file(os.path.join(d, k + ".key"), v)
        return d

    def state(self, d):
        with open(os.path.join(d, "state.json")) as f:
            return json.load(f)

    # -- the secret scan --------------------------------------------------------
    def all_secrets(self):
        """all_secrets returns {label: hex} for every 32-byte key file of the run (never printed)."""
        found = {}
        pats = ["*.kpm.hex", "*.kpsa.hex", "state-*/*.key", "mefdata/kek.hex", "mafdata/kek.hex",
                "maf2data/kek.hex"]
        for pat in pats:
            for p in glob.glob(os.path.join(self.dir, pat)):
                v = self.read(p).lower()
                if len(v) == 64:
                    found[os.path.relpath(p, self.dir)] = v
        return found

    def scan_secrets(self, expect_at_least=1, extra=None):
        """scan_secrets looks for every key file's value, and every value of |extra| ({label: hex}: keys
        the test learnt otherwise, such as a Kc from its own TLS exporter), in all logs and command output."""
        keys = self.all_secrets()
        keys.update({label: hx.lower() for label, hx in (extra or {}).items()})
        self.check(len(keys) >= expect_at_least, f"secret scan covers {len(keys)} key files (>= {expect_at_least})")
        text = self.server_logs() + "\n".join(t for _, t in self.transcript)
        low = text.lower()
        leaks = []
        for label, hx in keys.items():
            raw = bytes.fromhex(hx)
            forms = {"hex": hx, "base64": base64.b64encode(raw).decode(),
                     "base64url": base64.urlsafe_b64encode(raw).decode().rstrip("=")}
            for form, v in forms.items():
                if (v in low) if form == "hex" else (v in text):
                    leaks.append(f"{label} as {form}")
        self.check(not leaks, f"no key (hex or base64) in {len(text)} bytes of logs and command output",
                   ", ".join(leaks))  # names the file, never the value
