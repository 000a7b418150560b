// schema.h (private): the schema and its migrations, per engine.
//
// Each engine has its own list with the same versions and the same
// tables, columns and constraints in its own types. The schema version is
// PRAGMA user_version in SQLite and the one row of schema_version in
// PostgreSQL. Migrations are an ordered list
// with versions 1, 2, 3, ...; opening a database runs every migration newer
// than its version in ONE transaction (all or nothing), then sets
// user_version. A database whose version is newer than the list knows is
// refused (Errc::schema_too_new): old code must not write to a schema it
// does not understand. Migrations are append-only once released.
#pragma once

#include <span>
#include <string_view>

#include "m2msec/core/error.h"
#include "sql.h"

namespace m2msec::store {

struct Migration {
  int version;           // 1 for the first, then consecutive
  std::string_view sql;  // one or more statements
};

// schema_migrations is the list the store applies on open.
std::span<const Migration> schema_migrations(sql::Dialect dialect);

// schema_version reads the database's version (0 for a new database).
Result<int> schema_version(sql::Connection& conn);

// apply_migrations brings |conn|'s database to the last version in
// |migrations| (which must be numbered 1..n consecutively, else
// Errc::invalid_argument). Fails with Errc::schema_too_new if the database
// is newer than n, and with Errc::store_error if a migration fails, in
// which case nothing of this call is kept. Returns the final version.
// Processes that open one database at once migrate it one after the other
// (SQLite: the write lock; PostgreSQL: an advisory lock).
Result<int> apply_migrations(sql::Connection& conn, std::span<const Migration> migrations);

}  // namespace m2msec::store
