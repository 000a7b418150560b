#!/usr/bin/env python3
"""gba_device_test.py M2MSEC: the device side of GBA on Ub ("m2msec enrol --gba", 3GPP TS 24.109 clause 4,
RFC 3310 HTTP Digest AKAv1-MD5, TS 33.220 4.5.2) against a fake BSF written here, with no m2msec server.

What is independent of m2msec, and how:

  * the BSF is this script: a python ssl TLS server on 127.0.0.1 with the MEF certificate from pki.py (the
    device gets --ca ca.crt and --mef-fqdn mef.example.com), speaking HTTP/1.1 keep-alive on one
    connection; it parses the device's requests itself (request line, headers, Content-Length, the Digest
    Authorization directives) and writes its answers byte by byte;
  * the authentication vectors (RAND, AUTN, RES, CK, IK for a chosen SQN) come from Osmocom's osmo-auc-gen
    (MILENAGE with a random K and OPc per device, written to 0600 files for the device), and so does the
    check of the device's AUTS (osmo-auc-gen -A verifies MAC-S and recovers SQN_MS);
  * the Digest values are computed with python hashlib as RFC 2617 3.2.2.1 / RFC 3310 3.3 state them:
    HA1 = MD5(username:realm:RES-octets), qop=auth-int HA2 = MD5("GET:/:" MD5hex(body)),
    response = MD5hex(HA1hex:nonce:nc:cnonce:qop:HA2hex); rspauth the same with the method empty over the
    response body (RFC 2617 3.2.3); an AUTS request with the empty password (RFC 3310 3.4).

Scenarios (each device a fresh state dir unless said):
  1. an honest BSF: the device answers with the digest hashlib expects, exits 0, its B-TID is
     base64(RAND)@mef.example.com, ke.key holds CK||IK as osmo-auc-gen gave them, state.json keeps the SQN;
  2. a challenge whose realm is not the MEF's FQDN: refused, no second request;
  3. a forged AUTN (one MAC bit flipped): refused as an authentication failure, no second request;
  4. a stale SQN (SQN <= SQN_MS) and one too far ahead (> SQN_MS + 2^28): the device answers with AUTS
     (osmo-auc-gen finds the device's SQN_MS in it), then bootstraps on a fresh challenge; the window's
     upper edge SQN_MS + 2^28 is accepted; a stale SQN again after resynchronisation is refused;
  5. a 200 with a wrong rspauth: refused; the SQN the device accepted stays used (the same challenge
     replayed is answered with AUTS), for a device with and without an earlier state;
  6. a 200 whose <btid> is not base64(RAND)@mef.example.com: refused;
  7. a 403 to the initial request: refused;
  8. a 200 body with no <btid>, or two: refused as malformed;
  9. a challenge without qop auth-int, or without algorithm AKAv1-MD5: refused, no second request.
On every refusal: exit 1, exactly one "m2msec: error: " line on stderr, nothing on stdout. No K, OPc, CK,
IK or RES (hex or base64) in any output of the device. DTLS is not covered here (python has no DTLS).

Prints "N passed, N failed"; exits non-zero on a failure.
"""
import base64
import hashlib
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pki  # noqa: E402

MEF_FQDN = "mef.example.com"
IMS = "ims.mnc001.mcc001.3gppnetwork.org"
ENTITY_ID = "/dev-x"
CMD_TIMEOUT = 30
IO_TIMEOUT = 15
SQN_DELTA = 1 << 28
BSF_XML = "application/vnd.3gpp.bsf+xml"


# -- checks ------------------------------------------------------------------------------------------------

class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print("ok:", what)
        else:
            self.failed += 1
            print("FAIL:", what, ("-- " + str(detail)[:3000]) if detail else "")
        sys.stdout.flush()
        return bool(cond)


# -- osmo-auc-gen --------------------------------------------------------------------------------------------

def osmo_auc_gen(args):
    """osmo_auc_gen runs "osmo-auc-gen -3 -a milenage ARGS"; returns (exit code, {field: value}, text)."""
    p = subprocess.run(["osmo-auc-gen", "-3", "-a", "milenage"] + args, capture_output=True, text=True,
                       timeout=30, stdin=subprocess.DEVNULL)
    fields = {}
    for line in p.stdout.splitlines():
        name, sep, value = line.partition(":\t")
        if sep:
            fields[name.strip()] = value.strip()
    return p.returncode, fields, p.stdout + p.stderr


class Vector:
    """Vector is one authentication vector: RAND, AUTN, RES, CK, IK (bytes) for SQN |sqn|."""

    def __init__(self, rand, autn, res, ck, ik, sqn):
        self.rand, self.autn, self.res, self.ck, self.ik, self.sqn = rand, autn, res, ck, ik, sqn

    def nonce(self, autn=None):
        """nonce is RFC 3310 3.1's base64(RAND || AUTN)."""
        return base64.b64encode(self.rand + (autn or self.autn)).decode()

    def b_tid(self):
        return base64.b64encode(self.rand).decode() + "@" + MEF_FQDN


class Uicc:
    """Uicc is a device's simulated UICC as the fake BSF's HSS knows it: random K and OPc in 0600 files."""

    def __init__(self, t, name):
        self.t = t
        self.name = name
        self.impi = f"{name}@{IMS}"
        self.k = secrets.token_hex(16)
        self.opc = secrets.token_hex(16)
        self.k_file = t.secret_file(name + ".k.hex", self.k)
        self.opc_file = t.secret_file(name + ".opc.hex", self.opc)
        self.state = os.path.join(t.dir, "state-" + name)
        t.secrets[name + " K"] = self.k
        t.secrets[name + " OPc"] = self.opc

    def vector(self, sqn):
        rand = secrets.token_bytes(16)
        rc, f, text = osmo_auc_gen(["-k", self.k, "-o", self.opc, "-r", rand.hex(), "-s", str(sqn), "-f", "0000"])
        if rc != 0 or f.get("RAND", "").lower() != rand.hex() or f.get("SQN") != str(sqn):
            raise RuntimeError(f"osmo-auc-gen gave no vector for SQN {sqn} (exit {rc}): " + text[-500:])
        v = Vector(rand, bytes.fromhex(f["AUTN"]), bytes.fromhex(f["RES"]), bytes.fromhex(f["CK"]),
                   bytes.fromhex(f["IK"]), sqn)
        # osmo-auc-gen's own RFC 3310 nonce is the one this script builds.
        if f.get("IMS nonce") != v.nonce():
            raise RuntimeError("osmo-auc-gen's IMS nonce is not base64(RAND || AUTN)")
        tag = f"{self.name} SQN {sqn}"
        self.t.secrets.update({tag + " CK": v.ck.hex(), tag + " IK": v.ik.hex(), tag + " RES": v.res.hex(),
                               tag + " Ks": (v.ck + v.ik).hex()})
        return v

    def sqn_ms_from_auts(self, auts, rand):
        """sqn_ms_from_auts has osmo-auc-gen check AUTS (MAC-S) and returns the SQN_MS it carries, or None."""
        rc, f, _ = osmo_auc_gen(["-k", self.k, "-o", self.opc, "-r", rand.hex(), "-A", auts.hex(), "-f", "0000"])
        if rc != 0 or "SQN.MS" not in f:
            return None
        return int(f["SQN.MS"])


# -- HTTP/1.1 and Digest, written here ------------------------------------------------------------------------

class Request:
    def __init__(self, method, target, version, headers, body):
        self.method, self.target, self.version, self.headers, self.body = method, target, version, headers, body

    def header(self, name):
        """header returns the one value of |name| (case-insensitive), None if absent; two is an error."""
        vals = [v for n, v in self.headers if n.lower() == name.lower()]
        if len(vals) > 1:
            raise ValueError(f"header {name} given twice")
        return vals[0] if vals else None


class Conn:
    """Conn reads HTTP/1.1 requests from, and writes responses to, one TLS connection."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        try:
            data = self.sock.recv(65536)
        except (ssl.SSLError, ConnectionError):
            data = b""
        if not data:
            return False
        self.buf += data
        return True

    def read_request(self):
        """read_request returns the next Request, or None if the peer closed (or went silent) first."""
        try:
            while b"\r\n\r\n" not in self.buf:
                if len(self.buf) > 65536:
                    raise ValueError("request head over 64 KiB")
                if not self._fill():
                    if self.buf:
                        raise ValueError("connection closed inside a request head")
                    return None
        except socket.timeout:
            return None
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("ascii").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise ValueError(f"bad request line {lines[0]!r}")
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip() or line[0] in " \t":
                raise ValueError(f"bad header line {line!r}")
            headers.append((name, value.strip(" \t")))
        req = Request(parts[0], parts[1], parts[2], headers, b"")
        if req.header("Transfer-Encoding") is not None:
            raise ValueError("a Transfer-Encoding on a GET")
        length = req.header("Content-Length")
        n = int(length) if length is not None else 0
        if length is not None and (not length.isdigit() or n > 65536):
            raise ValueError(f"bad Content-Length {length!r}")
        while len(self.buf) < n:
            if not self._fill():
                raise ValueError("connection closed inside a request body")
        req.body, self.buf = self.buf[:n], self.buf[n:]
        return req

    def send(self, status, reason, headers=(), body=b""):
        out = f"HTTP/1.1 {status} {reason}\r\n"
        for name, value in headers:
            out += f"{name}: {value}\r\n"
        out += f"Content-Length: {len(body)}\r\n\r\n"
        self.sock.sendall(out.encode() + body)


TOKEN_CHARS = set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def parse_digest(value):
    """parse_digest parses "Digest name=token, name="quoted", ..." (RFC 7235 2.1) into {lower-case name: value};
    a duplicate directive or a syntax error raises ValueError."""
    scheme, _, rest = value.partition(" ")
    if scheme.lower() != "digest":
        raise ValueError(f"scheme {scheme!r} is not Digest")
    out = {}
    i, n = 0, len(rest)
    while True:
        while i < n and rest[i] in " \t,":
            i += 1
        if i >= n:
            return out
        j = i
        while j < n and rest[j] in TOKEN_CHARS:
            j += 1
        name = rest[i:j].lower()
        while j < n and rest[j] in " \t":
            j += 1
        if not name or j >= n or rest[j] != "=":
            raise ValueError(f"no directive at offset {i}")
        j += 1
        while j < n and rest[j] in " \t":
            j += 1
        if j < n and rest[j] == '"':
            j += 1
            v = ""
            while j < n and rest[j] != '"':
                if rest[j] == "\\" and j + 1 < n:
                    j += 1
                v += rest[j]
                j += 1
            if j >= n:
                raise ValueError(f"unterminated quoted string in {name}")
            j += 1
        else:
            k = j
            while j < n and rest[j] in TOKEN_CHARS:
                j += 1
            v = rest[k:j]
        if name in out:
            raise ValueError(f"directive {name} twice")
        out[name] = v
        while j < n and rest[j] in " \t":
            j += 1
        if j < n and rest[j] != ",":
            raise ValueError(f"junk after {name}")
        i = j


def md5hex(data):
    return hashlib.md5(data).hexdigest()


def request_digest(cred, password, method, body):
    """request_digest is RFC 2617 3.2.2.1 with qop=auth-int over |cred|'s directives; |password| is raw octets."""
    ha1 = md5hex(f"{cred['username']}:{cred['realm']}:".encode() + password)
    ha2 = md5hex(f"{method}:{cred['uri']}:{md5hex(body)}".encode())
    return md5hex(f"{ha1}:{cred['nonce']}:{cred['nc']}:{cred['cnonce']}:{cred['qop']}:{ha2}".encode())


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- the fake BSF -------------------------------------------------------------------------------------------

class Exchange:
    """Exchange is what the fake BSF saw in one scenario, for the main thread to check."""

    def __init__(self):
        self.facts = {}
        self.error = None
        self.sni = None


class FakeBsf:
    def __init__(self, pki_dir):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ctx.load_cert_chain(os.path.join(pki_dir, "mef.crt"), os.path.join(pki_dir, "mef.key"))
        self.ctx.sni_callback = self._sni
        self.current = None
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4)
        self.port = self.lsock.getsockname()[1]

    def _sni(self, sslobj, name, ctx):
        if self.current is not None:
            self.current.sni = name

    def serve(self, script):
        """serve runs |script(conn, ex)| on the next connection in a thread; returns (thread, ex)."""
        ex = Exchange()
        self.current = ex

        def run():
            raw = None
            try:
                self.lsock.settimeout(IO_TIMEOUT)
                raw, _ = self.lsock.accept()
                raw.settimeout(IO_TIMEOUT)
                tls = self.ctx.wrap_socket(raw, server_side=True)
                try:
                    script(Conn(tls), ex)
                finally:
                    tls.close()
            except Exception:  # noqa: BLE001 - reported by the main thread
                ex.error = traceback.format_exc()
                if raw is not None:
                    raw.close()

        th = threading.Thread(target=run, daemon=True)
        th.start()
        return th, ex


# -- scenario building blocks (run in the BSF thread) -------------------------------------------------------

def read_initial(conn, ex, uicc):
    """read_initial reads TS 24.109 A.3-1's request and records whether it is right."""
    req = conn.read_request()
    if req is None:
        raise RuntimeError("the device sent no initial request")
    cred = parse_digest(req.header("Authorization") or "")
    ex.facts["initial_ok"] = (req.method == "GET" and req.target == "/" and req.version == "HTTP/1.1" and
                              req.header("Host") == MEF_FQDN and req.body == b"" and
                              cred.get("username") == uicc.impi and cred.get("realm") == MEF_FQDN and
                              cred.get("nonce") == "" and cred.get("response") == "" and cred.get("uri") == "/" and
                              not any(k in cred for k in ("qop", "nc", "cnonce", "auts")))
    ex.facts["initial"] = (req.method, req.target, req.headers)
    return req


def send_challenge(conn, v, realm=MEF_FQDN, qop="auth-int", algorithm="AKAv1-MD5", autn=None, opaque=None):
    parts = [f"realm={quote(realm)}", f"nonce={quote(v.nonce(autn))}"]
    if algorithm:
        parts.append(f"algorithm={algorithm}")
    if qop:
        parts.append(f"qop={quote(qop)}")
    if opaque:
        parts.append(f"opaque={quote(opaque)}")
    conn.send(401, "Unauthorized", [("WWW-Authenticate", "Digest " + ", ".join(parts))])


def read_answer(conn, ex, uicc, v, key="answer", opaque=None):
    """read_answer reads the device's answer to the challenge of |v| and checks its digest with hashlib:
    ex.facts[key] is "digest" (response over RES), "auts" (AUTS with the empty password: the AUTS bytes are
    in ex.facts[key + "_auts"]), "none" (no request) or a description of what was wrong."""
    req = conn.read_request()
    if req is None:
        ex.facts[key] = "none"
        return None
    cred = parse_digest(req.header("Authorization") or "")
    ex.facts[key + "_cred"] = {k: val for k, val in cred.items() if k != "response"}
    wrong = []
    for name, want in (("username", uicc.impi), ("realm", MEF_FQDN), ("nonce", v.nonce()), ("uri", "/"),
                       ("qop", "auth-int"), ("nc", "00000001")):
        if cred.get(name) != want:
            wrong.append(f"{name}={cred.get(name)!r}")
    if (cred.get("algorithm") or "").lower() != "akav1-md5":
        wrong.append(f"algorithm={cred.get('algorithm')!r}")
    if not cred.get("cnonce"):
        wrong.append("no cnonce")
    if cred.get("opaque") != opaque:
        wrong.append(f"opaque={cred.get('opaque')!r}")
    if req.method != "GET" or req.target != "/" or req.header("Host") != MEF_FQDN:
        wrong.append(f"request {req.method} {req.target} Host {req.header('Host')!r}")
    if wrong:
        ex.facts[key] = "wrong directives: " + ", ".join(wrong)
        return cred
    if "auts" in cred:
        auts = base64.b64decode(cred["auts"], validate=True)
        ex.facts[key + "_auts"] = auts
        ok = cred.get("response") == request_digest(cred, b"", "GET", req.body)
        ex.facts[key] = "auts" if ok and len(auts) == 14 else "AUTS request whose digest is not the empty password's"
        return cred
    ok = cred.get("response") == request_digest(cred, v.res, "GET", req.body)
    ex.facts[key] = "digest" if ok else "a digest that is not hashlib's over RES"
    return cred


def lifetime(seconds=86400):
    t = int(time.time()) + seconds
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)), t


def bootstrapping_info(btid, life):
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<BootstrappingInfo xmlns="uri:3gpp-gba">'
            f"<btid>{btid}</btid><lifetime>{life}</lifetime></BootstrappingInfo>\n")


def send_ok(conn, cred, v, body, rspauth=None, echo_cnonce=None):
    """send_ok sends 200 with Authentication-Info (rspauth over |body| with XRES, unless given; the device's
    cnonce echoed, unless |echo_cnonce| is given) and |body|."""
    body = body.encode()
    if rspauth is None:
        rspauth = request_digest(cred, v.res, "", body)
    cnonce = cred["cnonce"] if echo_cnonce is None else echo_cnonce
    info = f'qop=auth-int, rspauth="{rspauth}", cnonce={quote(cnonce)}, nc={cred["nc"]}'
    conn.send(200, "OK", [("Authentication-Info", info), ("Content-Type", BSF_XML)], body)


def after(conn, ex):
    """after records whether the device sent anything more on the connection."""
    req = conn.read_request()
    ex.facts["after"] = None if req is None else (req.method, req.target, req.headers)


# -- the test -------------------------------------------------------------------------------------------------

class Test(Checks):
    def __init__(self, m2msec):
        super().__init__()
        self.m2msec = os.path.abspath(m2msec)
        self.dir = tempfile.mkdtemp(prefix="m2msec-gba-device-")
        self.pki = os.path.join(self.dir, "pki")
        old = os.umask(0o077)
        try:
            pki.make_pki(self.pki)
        finally:
            os.umask(old)
        self.ca = os.path.join(self.pki, "ca.crt")
        self.secrets = {}
        self.outputs = []
        self.bsf = FakeBsf(self.pki)
        self.n = 0

    def secret_file(self, name, text):
        path = os.path.join(self.dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")
        return path

    def uicc(self, tag):
        self.n += 1
        return Uicc(self, f"dev-x-{self.n}-{tag}")

    def enrol(self, uicc, script):
        """enrol runs the device against the fake BSF playing |script|; returns (rc, json or None, stdout,
        stderr, ex)."""
        th, ex = self.bsf.serve(script)
        args = [self.m2msec, "enrol", "--gba", "--mef", f"127.0.0.1:{self.bsf.port}", "--mef-fqdn", MEF_FQDN,
                "--ca", self.ca, "--impi", uicc.impi, "--k-file", uicc.k_file, "--opc-file", uicc.opc_file,
                "--entity-id", ENTITY_ID, "--state", uicc.state, "--json", "--timeout-ms", "5000"]
        p = subprocess.run(args, capture_output=True, text=True, timeout=CMD_TIMEOUT, stdin=subprocess.DEVNULL)
        self.outputs.append(p.stdout + p.stderr)
        th.join(IO_TIMEOUT + 5)
        if th.is_alive():
            ex.error = "the fake BSF's thread did not finish"
        if ex.error:
            self.check(False, "the fake BSF ran its script", ex.error)
        j = None
        if p.returncode == 0 and p.stdout.strip():
            try:
                j = json.loads(p.stdout)
            except json.JSONDecodeError:
                j = None
        return p.returncode, j, p.stdout, p.stderr, ex

    def expect_refusal(self, what, result, needles=()):
        rc, _, out, err, _ = result
        lines = [ln for ln in err.splitlines() if ln.strip()]
        self.check(rc == 1, f"{what}: exit 1", f"exit {rc}, stderr {err.strip()!r}")
        self.check(len(lines) == 1 and lines[0].startswith("m2msec: error: "), f"{what}: one error line",
                   repr(err))
        self.check(out == "", f"{what}: nothing on stdout", repr(out))
        for needle in needles:
            self.check(needle.lower() in err.lower(), f"{what}: the error says '{needle}'", repr(err.strip()))

    def state(self, uicc):
        with open(os.path.join(uicc.state, "state.json")) as f:
            return json.load(f)

    def ks_file(self, uicc):
        path = os.path.join(uicc.state, "ke.key")
        with open(path) as f:
            return f.read().strip(), os.stat(path).st_mode & 0o777

    # -- scripts --------------------------------------------------------------------------------------------
    def honest(self, uicc, v, life=None, stale=None):
        """honest is a correct Ub run for vector |v|; with |stale| (a vector the device should find stale),
        that challenge first, an AUTS expected, then |v|."""
        life = life or lifetime()

        def script(conn, ex):
            read_initial(conn, ex, uicc)
            if stale is not None:
                send_challenge(conn, stale)
                read_answer(conn, ex, uicc, stale, key="resync")
                if ex.facts.get("resync") != "auts":
                    return
                ex.facts["sqn_ms_in_auts"] = uicc.sqn_ms_from_auts(ex.facts["resync_auts"], stale.rand)
            opaque = secrets.token_hex(8)
            send_challenge(conn, v, opaque=opaque)
            cred = read_answer(conn, ex, uicc, v, opaque=opaque)
            if ex.facts.get("answer") != "digest":
                conn.send(403, "Forbidden")
                return
            send_ok(conn, cred, v, bootstrapping_info(v.b_tid(), life[0]))
            after(conn, ex)
        return script

    def expect_bootstrap(self, what, uicc, v, result, life):
        rc, j, out, err, ex = result
        self.check(ex.facts.get("initial_ok"), f"{what}: the initial request is TS 24.109 A.3-1's",
                   ex.facts.get("initial"))
        self.check(ex.sni == MEF_FQDN, f"{what}: SNI is the MEF's FQDN", ex.sni)
        self.check(ex.facts.get("answer") == "digest", f"{what}: the device's response is hashlib's digest over "
                   "osmo-auc-gen's RES", ex.facts.get("answer"))
        self.check(rc == 0 and j is not None, f"{what}: exit 0 with JSON", f"exit {rc}, stderr {err.strip()!r}")
        if j is None:
            return
        self.check(j.get("b_tid") == v.b_tid(), f"{what}: b_tid is base64(RAND)@{MEF_FQDN}", j)
        self.check(j.get("impi") == uicc.impi and j.get("entity_id") == ENTITY_ID and j.get("sqn_ms") == v.sqn and
                   j.get("expiry") == life[1], f"{what}: JSON names the IMPI, entity, SQN and <lifetime>", j)
        ks, mode = self.ks_file(uicc)
        self.check(ks.lower() == (v.ck + v.ik).hex() and mode == 0o600,
                   f"{what}: ke.key (0600) is CK||IK as osmo-auc-gen gave them", oct(mode))
        st = self.state(uicc)
        self.check(st.get("sqn_ms") == v.sqn and st.get("ke_id") == v.b_tid() and st.get("impi") == uicc.impi and
                   st.get("gba_rand") == v.rand.hex() and st.get("expiry") == life[1],
                   f"{what}: state.json keeps SQN_MS = {v.sqn}, the B-TID and RAND", st)
        self.check(ex.facts.get("after") is None, f"{what}: nothing after the 200", ex.facts.get("after"))

    # -- scenarios ------------------------------------------------------------------------------------------
    def scenario_honest(self):
        uicc = self.uicc("honest")
        v = uicc.vector(64 + secrets.randbelow(1 << 20))
        life = lifetime()
        self.expect_bootstrap("1 honest BSF", uicc, v, self.enrol(uicc, self.honest(uicc, v, life)), life)

    def refused_challenge(self, tag, what, needles, **challenge):
        uicc = self.uicc(tag)
        v = uicc.vector(64 + secrets.randbelow(1 << 20))

        def script(conn, ex):
            read_initial(conn, ex, uicc)
            send_challenge(conn, v, **challenge)
            after(conn, ex)
        r = self.enrol(uicc, script)
        self.expect_refusal(what, r, needles)
        self.check(r[4].facts.get("after", "?") is None, f"{what}: the device sends no second request",
                   r[4].facts.get("after"))
        return uicc, r

    def scenario_realm(self):
        self.refused_challenge("realm", "2 realm evil.example.com", ["realm"], realm="evil.example.com")

    def scenario_forged_autn(self):
        uicc = self.uicc("forged")
        v = uicc.vector(64 + secrets.randbelow(1 << 20))
        forged = bytearray(v.autn)
        forged[8 + secrets.randbelow(8)] ^= 1 << secrets.randbelow(8)  # a bit of MAC (AUTN octets 9..16)

        def script(conn, ex):
            read_initial(conn, ex, uicc)
            send_challenge(conn, v, autn=bytes(forged))
            after(conn, ex)
        r = self.enrol(uicc, script)
        self.expect_refusal("3 forged AUTN (MAC bit flipped)", r, ["authentication failed", "AUTN"])
        self.check(r[4].facts.get("after", "?") is None, "3 forged AUTN: no second request",
                   r[4].facts.get("after"))
        self.check(not os.path.exists(os.path.join(uicc.state, "ke.key")), "3 forged AUTN: no key stored")

    def scenario_resync(self):
        uicc = self.uicc("resync")
        s = 1024 + secrets.randbelow(1 << 20)
        v = uicc.vector(s)
        life = lifetime()
        self.expect_bootstrap("4 first bootstrap with SQN s", uicc, v, self.enrol(uicc, self.honest(uicc, v, life)),
                              life)
        # A challenge with SQN <= SQN_MS: AUTS, then a fresh one.
        for label, back in (("SQN = SQN_MS", 0), ("SQN < SQN_MS", 1 + secrets.randbelow(1000))):
            sqn_ms = self.state(uicc)["sqn_ms"]
            stale = uicc.vector(sqn_ms - back)
            fresh = uicc.vector(sqn_ms + 1)
            life = lifetime(3600)
            r = self.enrol(uicc, self.honest(uicc, fresh, life, stale=stale))
            ex = r[4]
            self.check(ex.facts.get("resync") == "auts", f"4 {label}: the device answers with AUTS (empty-password "
                       "digest per RFC 3310 3.4)", ex.facts.get("resync"))
            self.check(ex.facts.get("sqn_ms_in_auts") == sqn_ms, f"4 {label}: osmo-auc-gen verifies AUTS and "
                       f"finds SQN_MS = {sqn_ms}", ex.facts.get("sqn_ms_in_auts"))
            self.expect_bootstrap(f"4 {label}: then a fresh challenge with SQN_MS + 1", uicc, fresh, r, life)
        # Too far ahead (> SQN_MS + 2^28): AUTS; the window's edge SQN_MS + 2^28 is fresh.
        sqn_ms = self.state(uicc)["sqn_ms"]
        ahead = uicc.vector(sqn_ms + SQN_DELTA + 1)
        edge = uicc.vector(sqn_ms + SQN_DELTA)
        life = lifetime()
        r = self.enrol(uicc, self.honest(uicc, edge, life, stale=ahead))
        self.check(r[4].facts.get("resync") == "auts" and r[4].facts.get("sqn_ms_in_auts") == sqn_ms,
                   "4 SQN = SQN_MS + 2^28 + 1: AUTS with the device's SQN_MS", r[4].facts)
        self.expect_bootstrap("4 then SQN = SQN_MS + 2^28 (the window's edge)", uicc, edge, r, life)
        # A stale SQN again after the resynchronisation: refused, no third request.
        sqn_ms = self.state(uicc)["sqn_ms"]
        stale1, stale2 = uicc.vector(sqn_ms - 5), uicc.vector(sqn_ms)

        def script(conn, ex):
            read_initial(conn, ex, uicc)
            send_challenge(conn, stale1)
            read_answer(conn, ex, uicc, stale1, key="resync")
            send_challenge(conn, stale2)
            after(conn, ex)
        r = self.enrol(uicc, script)
        self.check(r[4].facts.get("resync") == "auts", "4 stale twice: the first is answered with AUTS",
                   r[4].facts.get("resync"))
        self.expect_refusal("4 stale twice", r, ["stale"])
        self.check(r[4].facts.get("after", "?") is None, "4 stale twice: no third request", r[4].facts.get("after"))
        self.check(self.state(uicc)["sqn_ms"] == sqn_ms, "4 stale twice: SQN_MS unchanged")
        return uicc

    def failing_200(self, uicc, v, body, rspauth=None, echo_cnonce=None):
        def script(conn, ex):
            read_initial(conn, ex, uicc)
            send_challenge(conn, v)
            cred = read_answer(conn, ex, uicc, v)
            if ex.facts.get("answer") != "digest":
                conn.send(403, "Forbidden")
                return
            send_ok(conn, cred, v, body, rspauth, echo_cnonce)
            after(conn, ex)
        return script

    def replay(self, uicc, v, what):
        """replay sends the challenge of |v| again: a USIM that accepted v.sqn answers with AUTS."""
        def script(conn, ex):
            read_initial(conn, ex, uicc)
            send_challenge(conn, v)
            read_answer(conn, ex, uicc, v)
            conn.send(403, "Forbidden", [("Content-Type", "text/plain")], b"replay probe\n")
        r = self.enrol(uicc, script)
        self.check(r[4].facts.get("answer") == "auts", f"{what}: the same challenge replayed is stale (AUTS), "
                   f"SQN {v.sqn} stays used", f"device answered: {r[4].facts.get('answer')}; state "
                   f"{self.state(uicc) if os.path.exists(os.path.join(uicc.state, 'state.json')) else 'absent'}")

    def scenario_rspauth(self, resync_uicc):
        uicc = self.uicc("rspauth")
        v = uicc.vector(64 + secrets.randbelow(1 << 20))
        body = bootstrapping_info(v.b_tid(), lifetime()[0])
        # A digest with XRES over the body, but not for the device's nonce, cnonce and nc.
        other = request_digest({"username": uicc.impi, "realm": MEF_FQDN, "uri": "/", "nonce": "", "nc": "",
                                "cnonce": "", "qop": ""}, v.res, "", body.encode())
        r = self.enrol(uicc, self.failing_200(uicc, v, body, rspauth=other))
        self.check(r[4].facts.get("answer") == "digest", "5 wrong rspauth: the device's response is hashlib's",
                   r[4].facts.get("answer"))
        self.expect_refusal("5 wrong rspauth", r, ["rspauth"])
        self.check(not os.path.exists(os.path.join(uicc.state, "ke.key")), "5 wrong rspauth: no key stored")
        self.replay(uicc, v, "5 wrong rspauth, fresh device")
        # The same with a device that has a state from an earlier bootstrap.
        sqn_ms = self.state(resync_uicc)["sqn_ms"]
        v = resync_uicc.vector(sqn_ms + 1)
        body = bootstrapping_info(v.b_tid(), lifetime()[0])
        r = self.enrol(resync_uicc, self.failing_200(resync_uicc, v, body, rspauth="0" * 32))
        self.expect_refusal("5 wrong rspauth, bootstrapped device", r, ["rspauth"])
        self.check(self.state(resync_uicc)["sqn_ms"] == v.sqn, "5 bootstrapped device: state.json keeps the "
                   "SQN accepted before the rspauth failed", self.state(resync_uicc))
        self.replay(resync_uicc, v, "5 wrong rspauth, bootstrapped device")

    def scenario_echo_and_lifetime(self):
        # RFC 2617 3.2.3: Authentication-Info echoes this answer's cnonce; a
        # right rspauth with another cnonce echoed is refused.
        uicc = self.uicc("echo")
        v = uicc.vector(64 + secrets.randbelow(1 << 20))
        r = self.enrol(uicc, self.failing_200(uicc, v, bootstrapping_info(v.b_tid(), lifetime()[0]),
                                              echo_cnonce="0123456789abcdef"))
        self.expect_refusal("5b Authentication-Info echoing another cnonce", r, ["cnonce"])
        self.check(not os.path.exists(os.path.join(uicc.state, "ke.key")), "5b other cnonce: no key stored")
        # A <lifetime> already past gives no key.
        uicc = self.uicc("past")
        v = uicc.vector(64 + secrets.randbelow(1 << 20))
        r = self.enrol(uicc, self.failing_200(uicc, v, bootstrapping_info(v.b_tid(), lifetime(-60)[0])))
        self.expect_refusal("8b <lifetime> already past", r, ["lifetime"])
        self.check(not os.path.exists(os.path.join(uicc.state, "ke.key")), "8b past lifetime: no key stored")

    def scenario_btid(self):
        for label, btid in (("another RAND", base64.b64encode(secrets.token_bytes(16)).decode() + "@" + MEF_FQDN),
                            ("another domain", None)):
            uicc = self.uicc("btid")
            v = uicc.vector(64 + secrets.randbelow(1 << 20))
            if btid is None:
                btid = base64.b64encode(v.rand).decode() + "@evil.example.com"
            r = self.enrol(uicc, self.failing_200(uicc, v, bootstrapping_info(btid, lifetime()[0])))
            self.expect_refusal(f"6 <btid> with {label}", r, ["B-TID"])
            self.check(not os.path.exists(os.path.join(uicc.state, "ke.key")), f"6 <btid> with {label}: no key")

    def scenario_403(self):
        uicc = self.uicc("403")

        def script(conn, ex):
            read_initial(conn, ex, uicc)
            conn.send(403, "Forbidden", [("Content-Type", "text/plain")], b"unknown IMPI\n")
            after(conn, ex)
        r = self.enrol(uicc, script)
        self.check(r[4].facts.get("initial_ok"), "7 403: the initial request is TS 24.109 A.3-1's",
                   r[4].facts.get("initial"))
        self.expect_refusal("7 403 to the initial request", r, ["403"])

    def scenario_malformed_body(self):
        for label, make in (("no <btid>", lambda v, life: '<BootstrappingInfo xmlns="uri:3gpp-gba">'
                             f"<lifetime>{life}</lifetime></BootstrappingInfo>"),
                            ("two <btid>", lambda v, life: '<BootstrappingInfo xmlns="uri:3gpp-gba">'
                             f"<btid>{v.b_tid()}</btid><btid>{v.b_tid()}</btid><lifetime>{life}</lifetime>"
                             "</BootstrappingInfo>")):
            uicc = self.uicc("body")
            v = uicc.vector(64 + secrets.randbelow(1 << 20))
            r = self.enrol(uicc, self.failing_200(uicc, v, make(v, lifetime()[0])))
            self.expect_refusal(f"8 200 body with {label}", r, ["btid"])
            self.check(not os.path.exists(os.path.join(uicc.state, "ke.key")), f"8 {label}: no key stored")

    def scenario_qop(self):
        self.refused_challenge("qop", '9 qop="auth"', ["auth-int"], qop="auth")
        self.refused_challenge("noqop", "9 no qop", ["auth-int"], qop=None)
        self.refused_challenge("md5", "9 algorithm=MD5", ["AKAv1-MD5"], algorithm="MD5")
        self.refused_challenge("intx", '9 qop="auth-intx" (not the token auth-int)', ["auth-int"], qop="auth-intx")

    def scan(self):
        text = "\n".join(self.outputs)
        low = text.lower()
        leaks = []
        for label, hx in self.secrets.items():
            raw = bytes.fromhex(hx)
            if hx.lower() in low or base64.b64encode(raw).decode() in text:
                leaks.append(label)
        self.check(len(self.secrets) >= 20 and not leaks, f"no K, OPc, CK, IK, RES or Ks of {len(self.secrets)} "
                   f"values in {len(text)} bytes of device output", ", ".join(leaks))

    def run(self):
        try:
            rc, _, text = osmo_auc_gen(["-k", "00" * 16, "-o", "00" * 16, "-r", "00" * 16, "-s", "1", "-f", "0000"])
            if not self.check(rc == 0 and "AUTN:" in text, "osmo-auc-gen runs", text[-300:]):
                return
            if not self.check(os.access(self.m2msec, os.X_OK), f"the m2msec binary {self.m2msec} exists"):
                return
            self.scenario_honest()
            self.scenario_realm()
            self.scenario_forged_autn()
            resync = self.scenario_resync()
            self.scenario_rspauth(resync)
            self.scenario_btid()
            self.scenario_echo_and_lifetime()
            self.scenario_403()
            self.scenario_malformed_body()
            self.scenario_qop()
            self.scan()
        except Exception:  # noqa: BLE001 - reported as a failed check
            self.check(False, "no exception", traceback.format_exc())
        finally:
            self.bsf.lsock.close()
            print(f"{self.passed} passed, {self.failed} failed")
            if self.failed == 0:
                shutil.rmtree(self.dir, ignore_errors=True)
            else:
                print("kept", self.dir)
            sys.stdout.flush()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: gba_device_test.py M2MSEC")
    t = Test(sys.argv[1])
    t.run()
    sys.exit(1 if t.failed else 0)
