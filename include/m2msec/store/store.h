// m2msec/store/store.h: the backend-neutral store.
//
// A Store owns the connections to one database and hands out the MEF and
// MAF repositories, the revocation log and the CSE's resource tree. The
// rules (validation, expiry, sealing) live in repositories written once
// over a small SQL interface; the engines are thin backends: SQLite
// (sqlite_store.h), the embedded default for one machine, and PostgreSQL
// (postgres_store.h), shared by the replicas of a role (docs/storage.md).
#pragma once

#include "m2msec/core/error.h"
#include "m2msec/store/maf_repository.h"
#include "m2msec/store/mef_repository.h"
#include "m2msec/store/records.h"
#include "m2msec/store/resource_repository.h"
#include "m2msec/store/revocation_log.h"

namespace m2msec::store {

class Store {
 public:
  virtual ~Store() = default;

  // The repositories live as long as the Store.
  virtual MefRepository& mef() = 0;
  virtual MafRepository& maf() = 0;
  virtual RevocationLog& revocations() = 0;
  // resources is the resource tree of the CSE behind Entity B.
  virtual ResourceRepository& resources() = 0;

  // write_stats reports group-commit effectiveness.
  virtual WriteStats write_stats() const = 0;

  // ping checks that the database answers a read (for readiness probes):
  // cheap, no table scan. Errc::store_error if it does not.
  virtual Status ping() = 0;

  // check_integrity runs the backend's own consistency checks (SQLite:
  // integrity_check and foreign_key_check; PostgreSQL, which enforces
  // foreign keys itself: the schema version and the KEK check value are
  // readable). Errc::store_error on failure.
  virtual Status check_integrity() = 0;
};

}  // namespace m2msec::store
