#!/usr/bin/env python3
"""mef_replicas_test.py M2MSEC: two MEF processes on one PostgreSQL database.

The test run's throw-away PostgreSQL cluster (M2MSEC_PG_DIR, CTest fixture
"postgres") holds a fresh schema for this test. Two "m2msec mef serve"
replicas, each with its own data directory and a copy of one KEK file,
use it through [mef.store] backend = "postgres". Checked as an operator
and a device would:

- an enrolee added through replica 1's CLI enrols through replica 2, and
  "mef enrolee show" through replica 1 sees that enrolment;
- the same device enrols again through replica 1: the KeID changes, and
  the first KeID's revocation is in the feed both replicas serve;
- an enrolee removed through replica 2 is refused at replica 1;
- a replica with another KEK refuses to start (wrong KEK), and one whose
  password file is open to others refuses to start;
- no key reaches the database in the clear (the sealed Kpm column holds
  no copy of the Kpm).
"""
import os
import shutil
import subprocess
import sys

from mef_harness import MAF, MEF_FQDN, Harness, Mef, pki, read_hex


def psql(pg_dir, sql):
    """psql runs |sql| on the test cluster (password through the environment of the child only)."""
    with open(os.path.join(pg_dir, "conninfo")) as f:
        conninfo = f.read().strip()
    with open(os.path.join(pg_dir, "password")) as f:
        password = f.read().strip()
    env = dict(os.environ, PGPASSWORD=password)
    p = subprocess.run(["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql],
                       capture_output=True, text=True, env=env, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"psql: {p.stderr.strip()}")
    return p.stdout.strip(), conninfo


def write_config(h, name, data_dir, conninfo, password_file):
    path = os.path.join(h.dir, name + ".toml")
    with open(path, "w") as f:
        f.write(f"""[mef]
fqdn = "{MEF_FQDN}"
sp_domain = "{pki.SP_DOMAIN}"
tls_listen = "127.0.0.1:0"
data_dir = "{data_dir}"
certificate = "pki/mef.crt"
private_key = "pki/mef.key"
trust_anchors = "pki/ca.crt"
device_trust_anchors = "pki/device-anchors.crt"
[[mef.maf]]
fqdn = "{MAF}"
address = "127.0.0.1:9999"
[mef.store]
backend = "postgres"
conninfo = "{conninfo}"
password_file = "{password_file}"
""")
    return path


def body(h):
    pg_dir = os.environ.get("M2MSEC_PG_DIR")
    if not h.check(bool(pg_dir), "M2MSEC_PG_DIR names the test cluster (run through ctest)"):
        return
    schema = "mef_replicas_" + str(os.getpid())
    _, conninfo = psql(pg_dir, f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
    conninfo += f" options='-csearch_path={schema}'"
    password_file = os.path.join(pg_dir, "password")
    try:
        configs = [write_config(h, f"mef{i}", f"data{i}", conninfo.replace('"', '\\"'), password_file)
                   for i in (1, 2)]

        # Replica 1's CLI makes the KEK; replica 2 gets a copy of it.
        h.config = configs[0]
        kpm_file, kpm_hex = h.add_psk_enrolee("/cse-r1", "r1@kpm.example.com")
        os.makedirs(os.path.join(h.dir, "data2"), mode=0o700)
        shutil.copy2(os.path.join(h.dir, "data1", "kek.hex"), os.path.join(h.dir, "data2", "kek.hex"))
        h.check(not os.path.exists(os.path.join(h.dir, "data1", "mef.db")), "no SQLite file: the store is PostgreSQL")

        h.config = configs[0]
        r1 = Mef(h)
        h.servers.append(r1)
        h.config = configs[1]
        r2 = Mef(h)
        h.servers.append(r2)

        rc, out, err = h.enrol(r2.tls_port, "dev-r1", kpm_id="r1@kpm.example.com", kpm_file=kpm_file)
        if not h.check(rc == 0, "an enrolee added through replica 1 enrols through replica 2", err.strip()):
            return
        ke_hex = read_hex(os.path.join(h.dir, "dev-r1", "ke.key"))
        h.config = configs[0]
        first = h.mef_json(["enrolee", "show", "--enrolee-id", "/cse-r1"])
        ke_id_1 = (first.get("enrolment") or {}).get("ke_id")
        h.check(bool(ke_id_1), "replica 1's CLI shows the enrolment made at replica 2", str(first))

        rc, out, err = h.enrol(r1.tls_port, "dev-r1b", kpm_id="r1@kpm.example.com", kpm_file=kpm_file)
        h.check(rc == 0, "the same device enrols again through replica 1", err.strip())
        h.config = configs[1]
        again = h.mef_json(["enrolee", "show", "--enrolee-id", "/cse-r1"])
        ke_id_2 = (again.get("enrolment") or {}).get("ke_id")
        h.check(ke_id_2 and ke_id_2 != ke_id_1, "replica 2's CLI sees the new KeID", f"{ke_id_1} -> {ke_id_2}")
        logged, _ = psql(pg_dir, f"SELECT count(*) FROM {schema}.revocations WHERE key_id = '{ke_id_1}'")
        h.check(logged == "1", "the replaced KeID is in the shared revocation log once", logged)

        # Removed through replica 2, refused at replica 1.
        h.config = configs[1]
        rc, out, err = h.mef(["enrolee", "remove", "--enrolee-id", "/cse-r1"])
        h.check(rc == 0, "enrolee remove through replica 2", err.strip())
        h.expect_refusal("enrolment at replica 1 after removal at replica 2",
                         h.enrol(r1.tls_port, "dev-r1c", kpm_id="r1@kpm.example.com", kpm_file=kpm_file), "psk")

        # Keys never reach the database in the clear.
        h.config = configs[0]
        h.add_psk_enrolee("/cse-r2", "r2@kpm.example.com")
        dump, _ = psql(pg_dir, f"SELECT encode(kpm, 'hex') FROM {schema}.enrolees WHERE kpm IS NOT NULL")
        h.check(dump and kpm_hex not in dump and ke_hex not in dump, "the kpm column holds sealed blobs only")
        h.check(len(dump.splitlines()[0]) == 2 * (32 + 28), "a sealed Kpm is nonce + 32 bytes + tag", dump[:80])

        # A replica with another KEK refuses to start.
        os.makedirs(os.path.join(h.dir, "data3"), mode=0o700)
        with open(os.path.join(h.dir, "data3", "kek.hex"), "w") as f:
            f.write("ab" * 32 + "\n")
        os.chmod(os.path.join(h.dir, "data3", "kek.hex"), 0o600)
        h.config = write_config(h, "mef3", "data3", conninfo.replace('"', '\\"'), password_file)
        rc, out, err = h.run(["mef", "serve", "--config", h.config, "--json"], timeout=60)
        h.check(rc != 0 and "kek" in err.lower(), "a replica with another KEK refuses to start", err.strip()[-300:])

        # A password file open to others is refused.
        loose = h.secret_file("loose.password", "x\n", mode=0o644)
        h.config = write_config(h, "mef4", "data1", conninfo.replace('"', '\\"'), loose)
        rc, out, err = h.run(["mef", "enrolee", "list", "--config", h.config])
        h.check(rc != 0 and "loose.password" in err, "a password file open to others is refused", err.strip()[-300:])
    finally:
        psql(pg_dir, f"DROP SCHEMA IF EXISTS {schema} CASCADE")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    Harness(sys.argv[1], "mef-replicas").main(body)
