#!/usr/bin/env python3
"""slot_exhaustion_test.py M2MSEC: idle peers cannot lock out enrolment (issue 9 item 5).

A real "m2msec mef serve" with max_handshakes = 32 on TLS and DTLS. From
127.0.0.1, the same address as the devices, an unauthenticated peer holds
10x max_handshakes connections of each kind while legitimate enrolments
("m2msec enrol", PSK over TLS and over DTLS) run:

  * 320 TCP connections that send nothing, reopened when the MEF closes them;
  * 64 TCP connections that trickle a ClientHello, one byte every 300 ms;
  * 320 DTLS peers that complete the cookie exchange (RFC 6347 4.2.1: a
    ClientHello, the HelloVerifyRequest, the ClientHello with the cookie,
    crafted here byte by byte) and then go quiet, renewed continuously.

The devices start only once every attacker is in place (a missed cookie is
retried, so a slow build cannot leave the attack short). Checks: at least
99 % of the enrolments succeed and each takes under 2 s
of wall time (a correctness bound for "not locked out", not a benchmark:
before the fix every one of them waited the 10 s handshake timeout); the
attack really filled the slots (the MEF logged shed handshakes, and DTLS
peers got past the cookie); the MEF is still serving afterwards, logged
its open file limit and exits 0 on SIGTERM.
"""
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time

from mef_harness import MEF_FQDN, Harness

MAX_HANDSHAKES = 32
IDLE_TCP = 10 * MAX_HANDSHAKES
TRICKLE_TCP = 64
QUIET_DTLS = 10 * MAX_HANDSHAKES
ENROLMENTS_PER_TRANSPORT = 50
BOUND_S = 2.0
RECONNECTS_PER_S = 100  # how fast the attacker replaces what the MEF closed


def ext(kind, body):
    return struct.pack("!HH", kind, len(body)) + body


def client_hello_body(cookie=b"", dtls=True, random=None):
    """client_hello_body: a (D)TLS 1.2 ClientHello offering the clause 10.2 suites, with SNI."""
    name = MEF_FQDN.encode()
    sni = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
    exts = (ext(0, sni) + ext(10, struct.pack("!HH", 2, 23)) + ext(11, b"\x01\x00") +
            ext(13, struct.pack("!HH", 2, 0x0403)) + ext(23, b""))
    suites = struct.pack("!HHH", 4, 0xC0A8, 0xC0AE)  # PSK-AES128-CCM8, ECDHE-ECDSA-AES128-CCM8
    version, cookie_field = (b"\xfe\xfd", bytes([len(cookie)]) + cookie) if dtls else (b"\x03\x03", b"")
    return (version + (random or os.urandom(32)) + b"\x00" + cookie_field + suites + b"\x01\x00" +
            struct.pack("!H", len(exts)) + exts)


def dtls_record(seq, msg_seq, body):
    hs = struct.pack("!B", 1) + len(body).to_bytes(3, "big") + struct.pack("!H", msg_seq) + b"\x00\x00\x00" + \
        len(body).to_bytes(3, "big") + body
    return struct.pack("!BHH", 22, 0xFEFD, 0) + seq.to_bytes(6, "big") + struct.pack("!H", len(hs)) + hs


def hello_verify_cookie(datagram):
    """hello_verify_cookie returns the cookie of a HelloVerifyRequest, or None."""
    if len(datagram) < 13 + 12 + 3 or datagram[0] != 22 or datagram[13] != 3:
        return None
    n = datagram[13 + 12 + 2]
    return datagram[13 + 12 + 3:13 + 12 + 3 + n]


def tls_client_hello():
    """tls_client_hello: a TLS 1.2 record carrying a ClientHello (for trickling)."""
    body = client_hello_body(dtls=False)
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return struct.pack("!BHH", 22, 0x0303, len(hs)) + hs


class Attack:
    """Attack runs the three unauthenticated peers on threads until stop()."""

    def __init__(self, tls_port, dtls_port):
        self.tls = ("127.0.0.1", tls_port)
        self.dtls = ("127.0.0.1", dtls_port)
        self.done = threading.Event()
        self.tcp_full = threading.Event()  # IDLE_TCP idle connections opened once
        self.dtls_full = threading.Event()  # QUIET_DTLS peers past the cookie once
        self.lock = threading.Lock()
        self.stats = {"tcp_opened": 0, "tcp_closed_by_mef": 0, "trickled": 0, "dtls_cookies": 0,
                      "dtls_server_flights": 0}
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self.idle_tcp, self.trickle_tcp,
                                                                          self.quiet_dtls)]

    def count(self, key, n=1):
        with self.lock:
            self.stats[key] += n

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join(10)

    def connect(self):
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect(self.tls)
        except OSError:
            s.close()
            return None
        s.setblocking(False)
        self.count("tcp_opened")
        return s

    def replace_closed(self, socks, budget):
        """replace_closed reopens up to |budget| sockets the MEF closed; returns how many."""
        readable, _, _ = select.select(socks, [], [], 0)
        n = 0
        for s in readable:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if data:
                continue
            self.count("tcp_closed_by_mef")
            socks.remove(s)
            s.close()
            if n < budget:
                fresh = self.connect()
                if fresh:
                    socks.append(fresh)
                    n += 1
        return n

    def idle_tcp(self):
        socks = [s for s in (self.connect() for _ in range(IDLE_TCP)) if s]
        if len(socks) == IDLE_TCP:
            self.tcp_full.set()
        while not self.done.is_set():
            while len(socks) < IDLE_TCP and not self.done.is_set():
                s = self.connect()
                if not s:
                    break
                socks.append(s)
                if len(socks) % 10 == 0:
                    break
            if len(socks) >= IDLE_TCP:
                self.tcp_full.set()
            self.replace_closed(socks, RECONNECTS_PER_S // 10)
            time.sleep(0.1)
        for s in socks:
            s.close()

    def trickle_tcp(self):
        hello = tls_client_hello()
        socks = {}
        while not self.done.is_set():
            for s in list(socks):
                try:
                    s.send(hello[socks[s]:socks[s] + 1])
                    socks[s] = (socks[s] + 1) % (len(hello) - 1)
                    self.count("trickled")
                except OSError:
                    s.close()
                    del socks[s]
            while len(socks) < TRICKLE_TCP:
                s = self.connect()
                if not s:
                    break
                socks[s] = 0
            self.done.wait(0.3)
        for s in socks:
            s.close()

    def cookie_exchange(self):
        """cookie_exchange returns a UDP socket past the cookie exchange, or None."""
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.connect(self.dtls)
        u.settimeout(1)
        rnd = os.urandom(32)  # RFC 6347 4.2.1: the second ClientHello repeats the first's parameters
        try:
            u.send(dtls_record(0, 0, client_hello_body(random=rnd)))
            cookie = hello_verify_cookie(u.recv(2048))
            if not cookie:
                u.close()
                return None
            u.send(dtls_record(1, 1, client_hello_body(cookie, random=rnd)))
        except OSError:
            u.close()
            return None
        self.count("dtls_cookies")
        return u

    def read_flights(self, peers):
        """read_flights counts what the MEF sent past the cookie: ServerHello ..."""
        ready, _, _ = select.select(peers, [], [], 0) if peers else ([], [], [])
        for u in ready:
            try:
                while u.recv(4096, socket.MSG_DONTWAIT):
                    self.count("dtls_server_flights")
            except OSError:
                pass

    def quiet_dtls(self):
        peers = []
        # The first fill retries until QUIET_DTLS peers are past the cookie (a
        # loaded MEF may miss a datagram, as a real attacker would see too).
        while len(peers) < QUIET_DTLS and not self.done.is_set():
            u = self.cookie_exchange()
            if u:
                peers.append(u)
        self.dtls_full.set()
        while not self.done.is_set():
            for _ in range(RECONNECTS_PER_S // 10):
                u = self.cookie_exchange()
                if u:
                    peers.append(u)
            self.read_flights(peers)
            while len(peers) > QUIET_DTLS:
                peers.pop(0).close()
            self.done.wait(0.1)
        self.read_flights(peers)
        for u in peers:
            u.close()


def body(h):
    with open(h.config) as f:
        text = f.read()
    text = text.replace('data_dir = "data"\n', f'data_dir = "data"\nmax_handshakes = {MAX_HANDSHAKES}\n', 1)
    with open(h.config, "w") as f:
        f.write(text)
    kpm_tls, _ = h.add_psk_enrolee("/dev-001", "dev-001@mef.example.com")
    kpm_dtls, _ = h.add_psk_enrolee("/dev-002", "dev-002@mef.example.com")
    mef = h.start_mef()

    attack = Attack(mef.tls_port, mef.dtls_port)
    attack.start()
    # Let the attack fill the slots first; however slow the build, the
    # devices start only once every attacker is in place.
    filled = attack.tcp_full.wait(120) and attack.dtls_full.wait(120)
    h.check(filled, "the attack opened all its connections before the devices started", str(attack.stats))

    results = []  # (transport, ok, seconds, detail)
    lock = threading.Lock()

    def device(transport, n):
        for i in range(n):
            dtls = transport == "dtls"
            port = mef.dtls_port if dtls else mef.tls_port
            kpm_id = "dev-002@mef.example.com" if dtls else "dev-001@mef.example.com"
            t0 = time.monotonic()
            rc, out, err = h.enrol(port, f"{transport}-{i}", kpm_id, kpm_dtls if dtls else kpm_tls, dtls=dtls)
            took = time.monotonic() - t0
            with lock:
                results.append((transport, rc == 0, took, err.strip()[-200:]))

    devices = [threading.Thread(target=device, args=(t, ENROLMENTS_PER_TRANSPORT)) for t in ("tls", "dtls")]
    for d in devices:
        d.start()
    for d in devices:
        d.join(300)
    attack.stop()

    print("attack:", attack.stats)
    total = len(results)
    good = [r for r in results if r[1] and r[2] < BOUND_S]
    slow = sorted(r[2] for r in results)
    print(f"enrolments: {total}, within {BOUND_S} s and successful: {len(good)}; "
          f"slowest: {[round(x, 2) for x in slow[-3:]]}")
    for r in results:
        if not (r[1] and r[2] < BOUND_S):
            print("  failed or slow:", r)
    h.check(total == 2 * ENROLMENTS_PER_TRANSPORT, "every enrolment ran", str(total))
    h.check(len(good) >= 0.99 * total, ">= 99 % of enrolments succeed within 2 s during the attack",
            f"{len(good)}/{total}")
    # Each transport gets through: the 99 % bound above is over both, so one
    # device of either 50 may meet a shed handshake (it would retry), not two.
    for t in ("tls", "dtls"):
        mine = [r for r in results if r[0] == t]
        h.check(sum(r[1] for r in mine) >= len(mine) - 1, f"{t} enrolments succeed (at most one shed)",
                f"{sum(r[1] for r in mine)}/{len(mine)}")

    # The attack was real: it reached the cap and got past the DTLS cookie.
    log = open(mef.log.name).read()
    h.check("handshake shed" in log, "the MEF shed handshakes (the attack filled max_handshakes)")
    h.check(attack.stats["dtls_cookies"] >= QUIET_DTLS and attack.stats["dtls_server_flights"] > 0,
            "DTLS attackers got past the cookie exchange", str(attack.stats))
    h.check(attack.stats["tcp_opened"] >= IDLE_TCP + TRICKLE_TCP, "TCP attackers held their connections",
            str(attack.stats))
    h.check("open file limit" in log, "the MEF logged its open file limit")

    # Still serving, and it stops cleanly.
    h.check(mef.p.poll() is None, "the MEF is still running")
    rc, out, err = h.enrol(mef.tls_port, "after", "dev-001@mef.example.com", kpm_tls)
    h.check(rc == 0, "an enrolment after the attack succeeds", err)
    h.check(mef.stop() == 0, "mef serve exits 0 on SIGTERM")


if __name__ == "__main__":
    Harness(sys.argv[1], "slot_exhaustion").main(body)
