#!/usr/bin/env python3
"""saef_push_test.py M2MSEC: MAF Key Push, real processes on loopback.

The MAF is configured with [[maf.cse]] for Entity B, so it pushes each new
Kc to Entity B after committing it and before answering the device
(docs/protocol.md "MAF Key Push"):

  * a MAF-based association succeeds with no MAF Key Retrieval: Entity B's
    log shows the push and no retrieval, and the MAF's log no refusal;
  * Entity B still de-registers the pushed Kc at the MAF when the
    connection ends (seed 000);
  * with Entity B down, the push fails quietly: the MAF phase still
    succeeds (the device's error names Entity B, not the MAF), and once
    Entity B is back the next association works;
  * no key in any log or output.

Prints "N passed, N failed"; exits non-zero on a failure.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from saef_harness import Saef, wait_until  # noqa: E402


def body(h):
    h.start_all()
    st = h.enrol("dev-p")
    j = h.expect_ok("MAF-based association with Kc pushed to Entity B", h.associate(st))
    kc = j["key_id"] if j else None
    h.check(wait_until(lambda: "pushed" in h.cse.log_text(), 5), "Entity B log: the MAF pushed Kc",
            h.cse.log_text()[-2000:])
    h.check(kc is not None and kc in h.cse.log_text(), "Entity B log: the pushed KcID is the device's", kc)
    h.check("retrieved" not in h.cse.log_text(), "Entity B did not retrieve Kc from the MAF",
            h.cse.log_text()[-2000:])
    h.check("refused the push" not in h.maf.log_text() and "could not push" not in h.maf.log_text(),
            "MAF log: no failed push", h.maf.log_text()[-2000:])
    # Seed 000: Kc dies with its connection, pushed or retrieved.
    h.check(wait_until(lambda: h.maf_keys() == [], 5),
            "Entity B de-registered the pushed Kc at the MAF when the connection ended", h.maf_keys())

    # Entity B down: the push fails, the association at the MAF does not.
    rc = h.cse.kill()
    h.check(rc == 0, "Entity B exits 0 on SIGTERM", rc)
    h.expect_refusal("association while Entity B is down", h.associate(st), "Entity B")
    h.check(wait_until(lambda: "could not push" in h.maf.log_text(), 5), "MAF log: the push failed",
            h.maf.log_text()[-2000:])
    h.start("cse")
    h.expect_ok("association once Entity B is back", h.associate(st))
    h.check(wait_until(lambda: "pushed" in h.cse.log_text(), 5), "the restarted Entity B got a pushed Kc")

    h.stop_all()
    h.scan_secrets(expect_at_least=2)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: saef_push_test.py M2MSEC")
    Saef(sys.argv[1], "saef-push", push_kc=True).main(body)
