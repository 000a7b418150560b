#!/usr/bin/env python3
"""Issue 12 item 4: each role's admin listener, tried as a load balancer,
Prometheus and an operator would: /healthz, /readyz and /metrics over plain
HTTP (Python's own HTTP client), the counters moving with a real enrolment,
association and refused handshake, "m2msec status" reading them instead of
the database, and the drain after SIGTERM (not ready, still serving, then
gone). Every thread of a serving process blocks SIGINT and SIGTERM, so a
second signal during the drain waits for the main thread."""
import json
import os
import re
import signal
import socket
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from saef_harness import Saef, Server, wait_until  # noqa: E402

DRAIN_MS = 3000


def get(h, role, path):
    """get returns (HTTP status, body) from the role's admin listener, or (0, error)."""
    url = f"http://127.0.0.1:{h.ports[role + '_admin']}{path}"
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)


def samples(text):
    """samples parses the exposition text into [(name, {label: value}, value)]."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        labels = {}
        if "{" in head:
            name, rest = head.split("{", 1)
            for part in rest.rstrip("}").split('",'):
                if part:
                    k, v = part.split('="', 1)
                    labels[k] = v.rstrip('"')
        else:
            name = head
        out.append((name, labels, float(value)))
    return out


def total(text, name, **want):
    return sum(v for n, l, v in samples(text) if n == name and all(l.get(k) == w for k, w in want.items()))


STOP_SIGNALS = (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGTERM - 1))


def unblocked_threads(pid):
    """unblocked_threads names the threads of |pid|, but its main one, that leave SIGINT or SIGTERM unblocked.

    The main thread waits for them in sigwait, which unblocks them while it waits. Any other
    thread that leaves them unblocked takes a signal the main thread is not waiting for at that
    moment (a second SIGTERM during the drain), and SIGTERM's default action ends the process."""
    bad = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        if int(tid) == pid:
            continue
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                status = f.read()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        name = re.search(r"^Name:\s*(.*)$", status, re.M).group(1)
        blocked = int(re.search(r"^SigBlk:\s*([0-9a-f]+)$", status, re.M).group(1), 16)
        if blocked & STOP_SIGNALS != STOP_SIGNALS:
            bad.append(f"{name} ({tid}) SigBlk {blocked:x}")
    return bad


def body(h):
    h.start_all()
    for role in ("mef", "maf", "cse"):
        srv = getattr(h, role)
        bad = unblocked_threads(srv.p.pid)
        h.check(not bad, f"{role}: every thread but the main one blocks SIGINT and SIGTERM", bad)
        h.check(srv.admin_port == h.ports[role + "_admin"], f"{role}: ready line names the admin port",
                srv.admin_port)
        h.check(get(h, role, "/healthz") == (200, "ok\n"), f"{role}: /healthz 200", get(h, role, "/healthz"))
        h.check(get(h, role, "/readyz") == (200, "ready\n"), f"{role}: /readyz 200", get(h, role, "/readyz"))
        code, text = get(h, role, "/metrics")
        h.check(code == 200 and "# TYPE m2msec_sessions_total counter" in text, f"{role}: /metrics", text[:500])
        _, version, _ = h.run(["--version"])
        h.check(total(text, "m2msec_build_info", role=role, version=version.split()[-1]) == 1 and
                abs(total(text, "m2msec_start_time_seconds", role=role) - time.time()) < 600,
                f"{role}: build info (the --version) and start time", text[:800])
    h.check(get(h, "mef", "/")[0] == 404, "unknown path: 404")

    # A real device: the counters move.
    st = h.enrol("adm-1")
    h.expect_ok("association", h.associate(st))
    _, mef = get(h, "mef", "/metrics")
    h.check(total(mef, "m2msec_key_grants_total", role="mef", kind="ke") >= 1, "MEF counts the Ke grant", mef)
    h.check(total(mef, "m2msec_sessions_total", role="mef", peer="psk") >= 1, "MEF counts the PSK session", mef)
    h.check(total(mef, "m2msec_store_writes_total", role="mef") >= 1, "MEF counts its store write (the enrolment)", mef)
    _, maf = get(h, "maf", "/metrics")
    h.check(total(maf, "m2msec_key_grants_total", role="maf", kind="km") >= 1, "MAF counts the Km from the MEF", maf)
    h.check(total(maf, "m2msec_key_grants_total", role="maf", kind="kc") >= 1, "MAF counts the Kc grant", maf)
    h.check(total(maf, "m2msec_link_calls_total", role="maf", link="keys") >= 1, "MAF counts its link calls", maf)
    h.check(total(maf, "m2msec_km_fetches_sent_total", role="maf") >= 1 and
            total(maf, "m2msec_km_fetch_requests_sent_total", role="maf") >= 1 and
            total(maf, "m2msec_km_fetch_queued", role="maf") == 0,
            "MAF counts the KeID it fetched and the request; none waits", maf)
    h.check(total(maf, "m2msec_link_breaker_open") == 0, "no link breaker open", maf)
    _, cse = get(h, "cse", "/metrics")
    h.check(total(cse, "m2msec_key_lookups_total", role="cse", outcome="fetched_maf") >= 1,
            "Entity B counts the Kc it fetched", cse)
    h.check(total(cse, "m2msec_sessions_total", role="cse", peer="psk") >= 1, "Entity B counts the session", cse)
    # The association's session has ended: Entity B de-registers its Kc, in one request.
    dereg = wait_until(lambda: total(get(h, "cse", "/metrics")[1], "m2msec_kc_deregistered_total", role="cse") >= 1, 10)
    _, cse = get(h, "cse", "/metrics")
    h.check(dereg and total(cse, "m2msec_kc_dereg_requests_total", role="cse") >= 1,
            "Entity B counts the Kc it de-registered and the request", cse)

    # A forged KcID: a refused handshake, counted by reason.
    before = total(cse, "m2msec_handshake_failures_total", role="cse", reason="unknown_psk_identity")
    ok, out = h.openssl_psk("AAAAAAAAAAAAAAAAAAAAAA==@maf.example.com", "00" * 32)
    h.check(not ok, "forged KcID refused by Entity B", out[-500:])
    counted = wait_until(lambda: total(get(h, "cse", "/metrics")[1], "m2msec_handshake_failures_total", role="cse",
                                       reason="unknown_psk_identity") > before, 10)
    h.check(counted, "the refused handshake is counted as unknown_psk_identity", get(h, "cse", "/metrics")[1][:3000])

    # Status reads the admin listeners, not the database files.
    rc, out, err = h.run(["status", "--config", h.config, "--json"])
    s = json.loads(out) if out.strip() else {}
    h.check(rc == 0 and s.get("healthy") is True, "status: healthy", out + err)
    for role in ("mef", "maf", "cse"):
        a = s.get(role, {}).get("admin", {})
        h.check(a.get("up") is True and a.get("ready") is True, f"status: {role} ready over its admin listener", a)
        h.check("store" not in s.get(role, {}) and "tls" not in s.get(role, {}),
                f"status: {role} neither probed nor its database opened", s.get(role))
    h.check(s.get("mef", {}).get("admin", {}).get("metrics", {}).get("grants", {}).get("ke", 0) >= 1,
            "status: the MEF's grants", s.get("mef"))
    rc, text, err = h.run(["status", "--config", h.config])
    h.check(rc == 0 and "ready" in text and "grants" in text and "healthy" in text, "status: text form", text + err)

    # SIGTERM: not ready at once, still serving while draining, then gone.
    h.mef.watched.send(signal.SIGTERM)
    drained = wait_until(lambda: get(h, "mef", "/readyz") == (503, "draining\n"), 5)
    h.check(drained, "MEF: /readyz 503 draining after SIGTERM", get(h, "mef", "/readyz"))
    h.check(get(h, "mef", "/healthz")[0] == 200, "MEF: still alive while draining")
    st2 = h.enrol("adm-2")
    h.check(st2 and os.path.isdir(st2), "MEF: still enrols while draining")
    rc, out, err = h.run(["status", "--config", h.config, "--json"])
    s = json.loads(out) if out.strip() else {}
    h.check(rc == 1 and s.get("mef", {}).get("admin", {}).get("ready") is False,
            "status: the draining MEF is not ready (exit 1)", out + err)
    gone = wait_until(lambda: not h.mef.alive(), DRAIN_MS / 1000 + 20)
    h.check(gone and h.mef.p.returncode == 0, "MEF exits 0 after draining", h.mef.log_text()[-1500:])
    h.check("draining for" in h.mef.log_text() and "drained; stopping" in h.mef.log_text(),
            "MEF logs the drain", h.mef.log_text()[-1500:])
    rc, out, _ = h.run(["status", "--config", h.config, "--json"])
    s = json.loads(out) if out.strip() else {}
    h.check(rc == 1 and s.get("mef", {}).get("admin", {}).get("up") is False, "status: the stopped MEF is down", out)

    # A second signal during the drain stops at once.
    h.maf.watched.send(signal.SIGTERM)
    wait_until(lambda: get(h, "maf", "/readyz")[0] == 503, 5)
    h.maf.watched.send(signal.SIGTERM)
    gone = wait_until(lambda: not h.maf.alive(), 20)
    h.check(gone and "second signal: stopping now" in h.maf.log_text(), "MAF: a second signal ends the drain",
            h.maf.log_text()[-1500:])
    h.stop_all()
    all_in_one(h)
    cookie_secret_file(h)
    port_taken(h)


def all_in_one(h):
    """"m2msec serve" runs the three roles in one process: its threads block the stop signals too,
    and two SIGTERMs (the second during the drain) end it with exit 0."""
    srv = Server(h, None, h.config, "all-in-one")
    bad = unblocked_threads(srv.p.pid)
    h.check(not bad, "all-in-one: every thread but the main one blocks SIGINT and SIGTERM", bad)
    srv.watched.send(signal.SIGTERM)
    h.check(wait_until(lambda: get(h, "maf", "/readyz")[0] == 503, 5), "all-in-one: not ready once draining")
    rc = srv.kill()  # the second SIGTERM, during the drain
    h.check(rc == 0 and "second signal: stopping now" in srv.log_text(),
            "all-in-one: a second signal ends the drain, exit 0", f"exit {rc}: {srv.log_text()[-1500:]}")


def cookie_secret_file(h):
    """dtls_cookie_secret_file: a 0600 hex file of at least 16 bytes, or the role refuses to start."""
    base = open(h.config).read()

    def config_with(path):
        text = base.replace("[mef]\n", f'[mef]\ndtls_listen = "127.0.0.1:{h.ports["mef"]}"\n'
                                         f'dtls_cookie_secret_file = "{path}"\n', 1)
        cfg = os.path.join(h.dir, "cookie.toml")
        with open(cfg, "w") as f:
            f.write(text)
        return cfg

    good = os.path.join(h.dir, "cookie.hex")
    with open(os.open(good, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write("ab" * 32 + "\n")
    srv = h.start_with("mef", config_with(good))
    h.check(srv.dtls_port == h.ports["mef"], "MEF starts with a shared DTLS cookie secret", srv.log_text()[-800:])
    h.check(srv.kill() == 0, "and stops cleanly")
    short = os.path.join(h.dir, "short.hex")
    with open(os.open(short, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write("ab" * 15)
    readable = os.path.join(h.dir, "readable.hex")
    with open(readable, "w") as f:
        f.write("ab" * 32)
    os.chmod(readable, 0o644)
    for path, needle in ((short, "at least 16 bytes"), (readable, "dtls_cookie_secret_file"),
                         (os.path.join(h.dir, "missing.hex"), "dtls_cookie_secret_file")):
        rc, out, err = h.run(["mef", "serve", "--config", config_with(path)], timeout=30)
        h.check(rc != 0 and needle in err, f"MEF refuses to start with {os.path.basename(path)}", (rc, err[-500:]))


def port_taken(h):
    """A listener whose port another socket holds: the role, and the all-in-one, refuse to start and say which
    address and protocol (TCP for TLS, UDP for DTLS) they could not take."""
    base = open(h.config).read()
    mef_tls = f'tls_listen = "127.0.0.1:{h.ports["mef"]}"'
    for kind, protocol in ((socket.SOCK_STREAM, "TCP"), (socket.SOCK_DGRAM, "UDP")):
        holder = socket.socket(socket.AF_INET, kind)
        holder.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            holder.listen(1)
        port = holder.getsockname()[1]
        listen = f'tls_listen = "127.0.0.1:{port}"' if protocol == "TCP" else \
            f'{mef_tls}\ndtls_listen = "127.0.0.1:{port}"'
        cfg = os.path.join(h.dir, f"taken-{protocol}.toml")
        with open(cfg, "w") as f:
            f.write(base.replace(mef_tls, listen, 1))
        try:
            for args in (["mef", "serve"], ["serve"]):
                rc, out, err = h.run(args + ["--config", cfg], timeout=30)
                h.check(rc == 1 and f"listen on 127.0.0.1:{port}/{protocol}: Address already in use" in err
                        and "I/O error: mef: I/O error" not in err,
                        f"'{' '.join(args)}' with the MEF's {protocol} port taken: exit 1, names the address", (rc, err[-500:]))
        finally:
            holder.close()


if __name__ == "__main__":
    h = Saef(sys.argv[1], "admin", admin_drain_ms=DRAIN_MS)
    sys.exit(h.main(body))
