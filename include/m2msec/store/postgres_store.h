// m2msec/store/postgres_store.h: the PostgreSQL backend of Store, for a
// role run as several replicas on one database (docs/storage.md,
// docs/deployment.md).
//
// The tables, constraints and schema versions are those of SQLite; secrets
// are sealed under the KEK before they leave the process, exactly as in
// SQLite, so the database server never sees a key in the clear. Durable
// writes are acknowledged after COMMIT (group-committed as in SQLite); Kc
// writes commit with synchronous_commit = off (Durability::relaxed).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "m2msec/core/error.h"
#include "m2msec/core/secret.h"
#include "m2msec/store/secret_box.h"
#include "m2msec/store/store.h"
#include "m2msec/store/write_options.h"

namespace m2msec::store {

struct PostgresStoreOptions {
  // conninfo is a libpq connection string or URI without the password,
  // e.g. "host=db.example.com port=5432 dbname=m2msec_mef user=m2msec".
  std::string conninfo;
  // password, if not empty, is given to libpq beside conninfo (never
  // inside a string that could be logged).
  SecretString password;
  std::size_t readers = 4;  // read connections in the pool
  int connect_timeout_s = 10;
  WriteQueueOptions write;  // group-commit bounds
};

// check_conninfo parses |conninfo| as libpq does: Errc::invalid_argument
// if it does not parse or if it holds a password (which belongs in a 0600
// file, never in a string that could be logged). The error never quotes
// the string.
Status check_conninfo(const std::string& conninfo);

// open_postgres_store connects, runs pending migrations under an advisory
// lock (replicas starting together migrate once; Errc::schema_too_new if
// the database is newer than this code), checks |kek| against the
// database's KEK check value (Errc::wrong_kek; a new database records
// it), then starts the writer thread and the read pool. Errc::store_error
// names what failed (never the password). The store owns |kek|.
Result<std::unique_ptr<Store>> open_postgres_store(const PostgresStoreOptions& options, Kek kek);

}  // namespace m2msec::store
