"""store_backend.py: which store engine the integration tests' servers use.

By default the MEF and the MAF of every harness keep their state in SQLite
files in their data directories. With M2MSEC_TEST_STORE=postgres (set by
CTest for the integration_pg.* copies of the tests, beside M2MSEC_PG_DIR,
the test run's throw-away PostgreSQL cluster), store_table(role) returns a
[<role>.store] table naming a fresh database on that cluster, so the same
tests run against PostgreSQL. The password stays in the cluster's 0600
password file; the conninfo holds none.
"""
import itertools
import os
import subprocess

_counter = itertools.count()


def backend():
    """backend is "postgres" or "sqlite"."""
    return "postgres" if os.environ.get("M2MSEC_TEST_STORE") == "postgres" else "sqlite"


def _cluster():
    pg_dir = os.environ.get("M2MSEC_PG_DIR")
    if not pg_dir:
        raise RuntimeError("M2MSEC_TEST_STORE=postgres needs M2MSEC_PG_DIR (run through ctest)")
    with open(os.path.join(pg_dir, "conninfo")) as f:
        conninfo = f.read().strip()
    return pg_dir, conninfo


def fresh_database():
    """fresh_database creates a database on the test cluster and returns its conninfo (no password)."""
    pg_dir, conninfo = _cluster()
    name = f"m2msec_it_{os.getpid()}_{next(_counter)}"
    with open(os.path.join(pg_dir, "password")) as f:
        password = f.read().strip()
    p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c",
                        f"CREATE DATABASE {name} TEMPLATE template0"],
                       capture_output=True, text=True, env=dict(os.environ, PGPASSWORD=password), timeout=60)
    if p.returncode != 0:
        raise RuntimeError("CREATE DATABASE: " + p.stderr.strip())
    return conninfo.replace("dbname=postgres", "dbname=" + name)


def store_table(role):
    """store_table returns the [<role>.store] TOML for the selected engine ("" for SQLite, the default)."""
    if backend() != "postgres":
        return ""
    pg_dir, _ = _cluster()
    return (f'\n[{role}.store]\nbackend = "postgres"\nconninfo = "{fresh_database()}"\n'
            f'password_file = "{os.path.join(pg_dir, "password")}"\n')
