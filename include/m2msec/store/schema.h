// m2msec/store/schema.h: the SQLite schema and its migrations.
//
// The schema version is PRAGMA user_version. Migrations are an ordered list
// with versions 1, 2, 3, ...; opening a database runs every migration newer
// than its version in ONE transaction (all or nothing), then sets
// user_version. A database whose version is newer than the list knows is
// refused (Errc::schema_too_new): old code must not write to a schema it
// does not understand. Migrations are append-only once released.
#pragma once

#include <span>
#include <string_view>

#include "m2msec/core/error.h"
#include "m2msec/store/sqlite_conn.h"

namespace m2msec::store {

struct Migration {
  int version;           // 1 for the first, then consecutive
  std::string_view sql;  // one or more statements
};

// schema_migrations is the list the store applies on open.
std::span<const Migration> schema_migrations();

// schema_version reads PRAGMA user_version.
Result<int> schema_version(SqliteConn& conn);

// apply_migrations brings |conn|'s database to the last version in
// |migrations| (which must be numbered 1..n consecutively, else
// Errc::invalid_argument). Fails with Errc::schema_too_new if the database
// is newer than n, and with Errc::store_error if a migration fails, in
// which case nothing of this call is kept. Returns the final version.
Result<int> apply_migrations(SqliteConn& conn, std::span<const Migration> migrations);

}  // namespace m2msec::store
