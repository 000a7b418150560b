#!/usr/bin/env python3
"""replicas.py: m2msec as replicas behind load balancers, on one machine.

    python3 scripts/replicas.py [--m2msec build/release/m2msec] [--dir DIR] [--replicas N]

starts, in DIR (default: a new temp dir):

- a throw-away PostgreSQL cluster (scripts/pg-test-cluster) with one
  database per role, m2msec_mef, m2msec_maf and m2msec_cse;
- a demo PKI (tests/integration/pki.py);
- N replicas (default 2) each of the MEF, the MAF and Entity B ("m2msec
  <role> serve"), every replica on its role's database
  ([<role>.store] backend = "postgres") with a copy of its role's KEK, each
  with an admin listener (/healthz, /readyz, /metrics);
- HAProxy in TCP mode in front of each role's TLS listeners, checking
  /readyz on each replica's admin port, and nginx's stream module in front
  of the DTLS listeners, with per-client address affinity (DTLS needs it:
  OpenSSL 3.0 has no Connection ID, docs/transport.md).

Each role is reached through its front only; the roles reach each other
through the fronts too. It prints the fronts, an example enrolment and
association, and runs until Ctrl-C or SIGTERM, then stops everything and
removes DIR (unless --keep). Progress goes to stderr.

tests/integration/replicas_test.py drives the same Topology.
"""
import argparse
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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import pki  # noqa: E402
from saef_harness import free_port, wait_until  # noqa: E402

MEF_FQDN = "mef.example.com"
MAF_FQDN = "maf.example.com"
CSE_ID = "/in-cse"
CSE_FQDN = "in-cse." + pki.SP_DOMAIN
ROLES = ("mef", "maf", "cse")
READY_TIMEOUT = 60


def http_get(port, path, timeout=2.0):
    """http_get returns (status, body) of GET path on 127.0.0.1:port, or (0, "") if unreachable."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return 0, ""
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        return int(head.split()[1]), body.decode(errors="replace")
    except (IndexError, ValueError):
        return 0, ""


class Replica:
    """Replica is one "m2msec <role> serve" process with fixed ports."""

    def __init__(self, topo, role, index):
        self.topo, self.role, self.index = topo, role, index
        self.name = f"{role}-r{index}"
        self.port = free_port()  # TLS and DTLS
        self.admin_port = free_port()
        self.config = os.path.join(topo.dir, self.name + ".toml")
        self.log_path = os.path.join(topo.dir, "logs", self.name + ".log")
        self.p = None
        self.watched = None

    def start(self):
        self.out = open(self.log_path + ".out", "a")
        self.err = open(self.log_path, "a")
        self.p = subprocess.Popen([self.topo.m2msec, self.role, "serve", "--config", self.config, "--json",
                                   "--log-level", "info"], stdout=self.out, stderr=self.err, stdin=subprocess.DEVNULL)
        if self.topo.watch is not None:
            self.watched = self.topo.watch.add(self.name + " serve", self.p, [self.log_path + ".out", self.log_path])

    def wait_ready(self):
        def ready():
            if self.p.poll() is not None:
                return "exited"
            return http_get(self.admin_port, "/readyz")[0] == 200

        r = wait_until(ready, READY_TIMEOUT, 0.1)
        if r is not True:
            raise RuntimeError(f"{self.name} did not become ready ({r}); log:\n" + self.log_text())

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def kill(self, sig=signal.SIGTERM, timeout=20):
        """kill sends |sig| (SIGKILL after |timeout| s) and returns the exit code."""
        if self.p is None:
            return None
        if self.p.poll() is None:
            if self.watched is not None:
                self.watched.send(sig)
            else:
                self.p.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)
        self.out.close()
        self.err.close()
        return self.p.returncode


class Topology:
    """Topology is the whole multi-replica setup in one directory."""

    def __init__(self, m2msec, directory=None, replicas=2, watch=None, log=None):
        self.m2msec = os.path.abspath(m2msec)
        self.dir = directory or tempfile.mkdtemp(prefix="m2msec-replicas-")
        os.makedirs(os.path.join(self.dir, "logs"), exist_ok=True)
        self.n = replicas
        self.watch = watch
        self.log = log or (lambda msg: print("replicas:", msg, file=sys.stderr, flush=True))
        self.pg_dir = os.path.join(self.dir, "pg")
        self.pki = os.path.join(self.dir, "pki")
        self.front = {r: free_port() for r in ROLES}
        self.replicas = {r: [Replica(self, r, i + 1) for i in range(replicas)] for r in ROLES}
        self.balancers = []
        self.pg_started = False

    # -- setup ---------------------------------------------------------------
    def psql(self, sql, dbname=None):
        with open(os.path.join(self.pg_dir, "conninfo")) as f:
            conninfo = f.read().strip()
        if dbname:
            conninfo = conninfo.replace("dbname=postgres", "dbname=" + dbname)
        with open(os.path.join(self.pg_dir, "password")) as f:
            password = f.read().strip()
        p = subprocess.run(["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql],
                           capture_output=True, text=True, env=dict(os.environ, PGPASSWORD=password), timeout=120)
        if p.returncode != 0:
            raise RuntimeError("psql: " + p.stderr.strip())
        return p.stdout.strip()

    def conninfo(self, role):
        with open(os.path.join(self.pg_dir, "conninfo")) as f:
            return f.read().strip().replace("dbname=postgres", f"dbname=m2msec_{role}")

    def start_postgres(self):
        self.log("starting PostgreSQL")
        p = subprocess.run([os.path.join(HERE, "pg-test-cluster"), "start", self.pg_dir], capture_output=True,
                           text=True, timeout=180)
        if p.returncode != 0:
            raise RuntimeError("pg-test-cluster: " + p.stderr.strip())
        self.pg_started = True
        for role in ("mef", "maf", "cse"):
            self.psql(f"CREATE DATABASE m2msec_{role} TEMPLATE template0")

    def make_pki(self):
        self.log("making the demo PKI")
        old = os.umask(0o077)
        try:
            pki.make_pki(self.pki)
            pki.make_cse(self.pki, "in-cse")
        finally:
            os.umask(old)

    def write_configs(self):
        keks = {r: secrets.token_hex(32) for r in ("mef", "maf", "cse")}
        # One DTLS cookie secret for every replica: any of them verifies a
        # cookie another issued.
        cookie = os.path.join(self.dir, "dtls-cookie.hex")
        fd = os.open(cookie, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as k:
            k.write(secrets.token_hex(32) + "\n")
        password = os.path.join(self.pg_dir, "password")
        f = self.front
        for role in ROLES:
            for r in self.replicas[role]:
                data = os.path.join(self.dir, r.name + "-data")
                os.makedirs(data, mode=0o700, exist_ok=True)
                # Every replica of a role holds the same KEK (0600).
                fd = os.open(os.path.join(data, "kek.hex"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as k:
                    k.write(keks[role] + "\n")
                listen = (f'tls_listen = "127.0.0.1:{r.port}"\ndtls_listen = "127.0.0.1:{r.port}"\n'
                          f'dtls_cookie_secret_file = "{cookie}"\n'
                          f'admin_listen = "127.0.0.1:{r.admin_port}"\ndrain_ms = 2000\n')
                store = (f'[{role}.store]\nbackend = "postgres"\nconninfo = "{self.conninfo(role)}"\n'
                         f'password_file = "{password}"\n')
                if role == "mef":
                    text = f"""[mef]
fqdn = "{MEF_FQDN}"
sp_domain = "{pki.SP_DOMAIN}"
{listen}data_dir = "{data}"
certificate = "pki/mef.crt"
private_key = "pki/mef.key"
trust_anchors = "pki/ca.crt"
device_trust_anchors = "pki/device-anchors.crt"
workers = 8

[[mef.maf]]
fqdn = "{MAF_FQDN}"
address = "127.0.0.1:{f['maf']}"

{store}"""
                elif role == "maf":
                    text = f"""[maf]
fqdn = "{MAF_FQDN}"
sp_domain = "{pki.SP_DOMAIN}"
{listen}data_dir = "{data}"
certificate = "pki/maf.crt"
private_key = "pki/maf.key"
trust_anchors = "pki/ca.crt"
device_trust_anchors = "pki/device-anchors.crt"
workers = 8

[[maf.mef]]
fqdn = "{MEF_FQDN}"
address = "127.0.0.1:{f['mef']}"

[[maf.cse]]
cse_id = "{CSE_ID}"
fqdn = "{CSE_FQDN}"
address = "127.0.0.1:{f['cse']}"

{store}"""
                else:
                    text = f"""[cse]
fqdn = "{CSE_FQDN}"
sp_domain = "{pki.SP_DOMAIN}"
cse_id = "{CSE_ID}"
data_dir = "{data}"
audit_file = "{r.name}-audit.jsonl"
{listen}certificate = "pki/in-cse.crt"
private_key = "pki/in-cse.key"
trust_anchors = "pki/ca.crt"
device_trust_anchors = "pki/device-anchors.crt"
workers = 8

[[cse.maf]]
fqdn = "{MAF_FQDN}"
address = "127.0.0.1:{f['maf']}"

[[cse.mef]]
fqdn = "{MEF_FQDN}"
address = "127.0.0.1:{f['mef']}"

{store}"""
                with open(r.config, "w") as out:
                    out.write(text)

    def start_balancers(self):
        self.log("starting HAProxy (TLS) and nginx (DTLS)")
        hcfg = os.path.join(self.dir, "haproxy.cfg")
        lines = ["global", "  maxconn 8192", "defaults", "  mode tcp", "  timeout connect 5s",
                 "  timeout client 120s", "  timeout server 120s", "  retries 2", "  option redispatch"]
        for role in ROLES:
            lines += [f"frontend {role}", f"  bind 127.0.0.1:{self.front[role]}", f"  default_backend {role}",
                      f"backend {role}", "  balance roundrobin", "  option httpchk",
                      "  http-check send meth GET uri /readyz"]
            for r in self.replicas[role]:
                lines.append(f"  server r{r.index} 127.0.0.1:{r.port} check port {r.admin_port} "
                             "inter 300ms fall 2 rise 2")
        with open(hcfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        ncfg = os.path.join(self.dir, "nginx.conf")
        stream = []
        for role in ROLES:
            servers = "".join(f"    server 127.0.0.1:{r.port};\n" for r in self.replicas[role])
            # Affinity per client address and port: a DTLS association
            # stays on the replica that holds its state.
            stream.append(f"  upstream {role}_dtls {{\n    hash $remote_addr$remote_port consistent;\n{servers}  }}\n"
                          f"  server {{\n    listen 127.0.0.1:{self.front[role]} udp;\n"
                          f"    proxy_pass {role}_dtls;\n    proxy_timeout 120s;\n  }}\n")
        with open(ncfg, "w") as f:
            f.write("load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n"
                    f"pid {self.dir}/nginx.pid;\nerror_log {self.dir}/logs/nginx.log warn;\n"
                    "worker_processes 1;\nevents { worker_connections 4096; }\n"
                    "stream {\n" + "".join(stream) + "}\n")
        for name, args in (("haproxy", ["haproxy", "-db", "-f", hcfg]),
                           ("nginx", ["nginx", "-p", self.dir, "-c", ncfg, "-g", "daemon off;"])):
            exe = shutil.which(args[0]) or shutil.which(args[0], path="/usr/sbin:/sbin")
            if exe is None:
                raise RuntimeError(f"{args[0]} is not installed (scripts/install-deps.sh)")
            log = open(os.path.join(self.dir, "logs", name + ".log"), "a")
            p = subprocess.Popen([exe] + args[1:], stdout=log, stderr=log, stdin=subprocess.DEVNULL)
            self.balancers.append((name, p, log))
        time.sleep(0.3)
        for name, p, log in self.balancers:
            if p.poll() is not None:
                with open(log.name, errors="replace") as f:
                    raise RuntimeError(f"{name} exited {p.returncode}: {f.read()[-2000:]}")

    def start(self):
        self.start_postgres()
        self.make_pki()
        self.write_configs()
        # The first replica of a role migrates its database; the others
        # start once it is ready.
        for role in ROLES:
            first, rest = self.replicas[role][0], self.replicas[role][1:]
            self.log(f"starting {self.n} {role} replicas")
            first.start()
            first.wait_ready()
            for r in rest:
                r.start()
            for r in rest:
                r.wait_ready()
        self.start_balancers()
        self.wait_fronts()

    def wait_fronts(self):
        def up():
            for role in ROLES:
                try:
                    socket.create_connection(("127.0.0.1", self.front[role]), timeout=1).close()
                except OSError:
                    return False
            return True

        if not wait_until(up, 30, 0.1):
            raise RuntimeError("the load balancers do not accept connections")
        time.sleep(1.0)  # the first health checks mark every replica up

    def stop(self, remove=True):
        # Every replica drains at once (drain_ms), then each is waited for.
        every = [r for role in reversed(ROLES) for r in self.replicas[role]]
        for r in every:
            if r.alive():
                (r.watched.send if r.watched is not None else r.p.send_signal)(signal.SIGTERM)
        for r in every:
            if r.p is not None:
                try:
                    r.p.wait(20)
                except subprocess.TimeoutExpired:
                    r.p.kill()
                    r.p.wait(10)
            r.kill()  # closes its log files
        for name, p, log in self.balancers:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            log.close()
        self.balancers = []
        if self.pg_started:
            subprocess.run([os.path.join(HERE, "pg-test-cluster"), "stop", self.pg_dir], capture_output=True,
                           timeout=120)
            self.pg_started = False
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)

    def describe(self):
        return {
            "dir": self.dir,
            "fronts": {r: f"127.0.0.1:{p}" for r, p in self.front.items()},
            "replicas": {r: [{"config": x.config, "port": x.port, "admin": f"127.0.0.1:{x.admin_port}"}
                             for x in self.replicas[r]] for r in ROLES},
        }


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Everything listens on 127.0.0.1 only. See docs/deployment.md.")
    ap.add_argument("--m2msec", default=os.path.join(ROOT, "build", "release", "m2msec"), help="the m2msec binary")
    ap.add_argument("--dir", help="work directory (default: a new temp dir)")
    ap.add_argument("--replicas", type=int, default=2, help="replicas per role (default 2)")
    ap.add_argument("--keep", action="store_true", help="keep the directory when stopping")
    ap.add_argument("--json", action="store_true", help="print the topology as one JSON line")
    args = ap.parse_args()
    if not 1 <= args.replicas <= 8:
        ap.error("--replicas must be 1..8")
    if not os.access(args.m2msec, os.X_OK):
        sys.exit(f"replicas: no m2msec binary at {args.m2msec} (build it, or pass --m2msec)")
    topo = Topology(args.m2msec, args.dir, args.replicas)
    stop = {"now": False}

    def on_signal(signum, frame):  # noqa: ARG001
        stop["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        topo.start()
        d = topo.describe()
        if args.json:
            print(json.dumps(d), flush=True)
        else:
            f = d["fronts"]
            print(f"""m2msec replicas are up in {topo.dir}
  MEF {MEF_FQDN}   {f['mef']} (TLS via HAProxy, DTLS via nginx)
  MAF {MAF_FQDN}   {f['maf']}
  Entity B {CSE_ID}   {f['cse']}
  each replica's /readyz and /metrics: {', '.join(x['admin'] for r in ROLES for x in d['replicas'][r])}

Try (another shell):
  M={topo.m2msec}; D={topo.dir}
  (umask 077; openssl rand -hex 32 > $D/dev1.kpm)
  $M mef enrolee add --config $D/mef-r1.toml --enrolee-id /dev-1 --kpm-id dev1@{MEF_FQDN} \\
      --kpm-file $D/dev1.kpm --target {MAF_FQDN}
  $M enrol --mef {f['mef']} --mef-fqdn {MEF_FQDN} --kpm-id dev1@{MEF_FQDN} --kpm-file $D/dev1.kpm \\
      --maf {MAF_FQDN} --state $D/dev1
  $M associate --state $D/dev1 --cse {f['cse']} --cse-fqdn {CSE_FQDN} --cse-id {CSE_ID}
Ctrl-C stops everything.""", flush=True)
        while not stop["now"]:
            time.sleep(0.5)
            for role in ROLES:
                for r in topo.replicas[role]:
                    if r.p is not None and not r.alive() and r.p.returncode is not None and not stop["now"]:
                        topo.log(f"{r.name} exited {r.p.returncode}; the others keep serving")
                        r.p = None
    except RuntimeError as e:
        print("replicas: error:", e, file=sys.stderr)
        topo.stop(remove=not args.keep)
        sys.exit(1)
    topo.log("stopping")
    topo.stop(remove=not args.keep)


if __name__ == "__main__":
    main()
