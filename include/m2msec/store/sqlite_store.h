// m2msec/store/sqlite_store.h: the SQLite backend of Store.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "m2msec/core/error.h"
#include "m2msec/store/secret_box.h"
#include "m2msec/store/store.h"
#include "m2msec/store/write_options.h"

namespace m2msec::store {

struct SqliteStoreOptions {
  std::string path;             // database file; created if missing
  int busy_timeout_ms = 5000;   // for locks held by other processes
  std::size_t readers = 4;      // read connections in the pool
  WriteQueueOptions write;      // group-commit bounds
};

// open_sqlite_store opens or creates the database, runs pending
// migrations (Errc::schema_too_new if the file is newer than this code),
// checks |kek| against the database's KEK check value (Errc::wrong_kek on
// mismatch; a new database records it), then starts the writer thread and
// the read pool. The store owns |kek|.
Result<std::unique_ptr<Store>> open_sqlite_store(const SqliteStoreOptions& options, Kek kek);

}  // namespace m2msec::store
