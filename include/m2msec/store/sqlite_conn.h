// m2msec/store/sqlite_conn.h: thin RAII wrappers over one SQLite connection
// and its prepared statements.
//
// Only the SQLite backend and its tests use these; repositories hide SQL
// from everyone else. A connection is used by one thread at a time (it is
// opened with SQLITE_OPEN_NOMUTEX); the write queue and the read pool
// enforce that.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/core/secret.h"

struct sqlite3;
struct sqlite3_stmt;

namespace m2msec::store {

// SqliteMode says what a connection is for. Writer connections run the
// schema migrations' pragmas; reader connections are query_only.
enum class SqliteMode { writer, reader };

// sqlite_error builds an Error from the connection's last error: a
// PRIMARY KEY or UNIQUE violation becomes Errc::already_exists, anything
// else Errc::store_error. |what| names the operation (never a value).
Error sqlite_error(sqlite3* db, int rc, std::string_view what);

// StmtCache keeps a connection's prepared statements for reuse (the SQL
// text is the key). Private to SqliteConn and Stmt.
struct StmtCache;

// StmtFinalizer finalizes a statement, or returns it to |cache|.
struct StmtFinalizer {
  StmtCache* cache = nullptr;
  std::string sql;
  void operator()(sqlite3_stmt* s) const;
};

// Stmt owns one prepared statement. Column and bind indexes follow SQLite:
// binds from 1, columns from 0.
class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  // A statement from |cache| returns to it (reset, bindings cleared) when
  // this Stmt is destroyed, instead of being finalized.
  Stmt(sqlite3* db, sqlite3_stmt* stmt, StmtCache* cache, std::string sql)
      : db_(db), stmt_(stmt, StmtFinalizer{cache, std::move(sql)}) {}

  Status bind_text(int index, std::string_view text);
  Status bind_int64(int index, std::int64_t value);
  Status bind_blob(int index, std::span<const std::uint8_t> bytes);
  Status bind_null(int index);
  // bind_optional binds text or NULL.
  Status bind_optional(int index, const std::optional<std::string>& text);
  Status bind_optional(int index, const std::optional<std::int64_t>& value);

  // step runs the statement once: true when a row is available, false when
  // done. Errors map through sqlite_error.
  Result<bool> step();
  // run steps until done, ignoring rows (for INSERT/UPDATE/DELETE).
  Status run();
  // reset rewinds the statement and clears its bindings for reuse.
  void reset();

  bool is_null(int col) const;
  std::int64_t column_int64(int col) const;
  std::string column_text(int col) const;
  std::optional<std::string> column_optional_text(int col) const;
  std::optional<std::int64_t> column_optional_int64(int col) const;
  std::vector<std::uint8_t> column_blob(int col) const;

 private:
  sqlite3* db_ = nullptr;
  std::unique_ptr<sqlite3_stmt, StmtFinalizer> stmt_;
};

// SqliteConn owns one open connection. Moving transfers ownership.
class SqliteConn {
 public:
  // open opens (creating if |mode| is writer) the database at |path| and
  // applies the connection pragmas: WAL journal, synchronous=FULL,
  // foreign_keys=ON, the busy timeout, and query_only for readers. Fails
  // with Errc::store_error naming the path and pragma.
  static Result<SqliteConn> open(const std::string& path, SqliteMode mode, int busy_timeout_ms);

  SqliteConn() = default;

  // exec runs one or more statements that return no rows we need.
  Status exec(std::string_view sql);
  // prepare compiles one statement, or hands out the one this connection
  // compiled for the same text before (a small per-connection cache: the
  // repositories' SQL is a fixed set of strings).
  Result<Stmt> prepare(std::string_view sql);

  // cached_statements counts the statements waiting in the cache.
  std::size_t cached_statements() const;
  // changes is the number of rows changed by the last statement.
  int changes() const;

  // pragma_text returns the first column of "PRAGMA <name>" as text.
  Result<std::string> pragma_text(std::string_view name);

  sqlite3* get() const { return db_.get(); }

 private:
  struct Closer {
    void operator()(sqlite3* db) const;
  };
  struct CacheDeleter {
    void operator()(StmtCache* c) const;
  };
  // Declared after db_, so destroyed first: cached statements are
  // finalized before the connection closes.
  std::unique_ptr<sqlite3, Closer> db_;
  std::unique_ptr<StmtCache, CacheDeleter> cache_;
};

}  // namespace m2msec::store
