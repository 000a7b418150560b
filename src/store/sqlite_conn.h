// sqlite_conn.h (private): the SQLite backend of the SQL interface (sql.h):
// one connection and its compiled statements.
//
// A connection is opened with SQLITE_OPEN_NOMUTEX and used by one thread at
// a time.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "sql.h"

struct sqlite3;

namespace m2msec::store {

// SqliteMode says what a connection is for. Writer connections may create
// the file; reader connections are query_only.
enum class SqliteMode { writer, reader };

// sqlite_error builds an Error from the connection's last error: a
// PRIMARY KEY or UNIQUE violation becomes Errc::already_exists, anything
// else Errc::store_error. |what| names the operation (never a value).
Error sqlite_error(sqlite3* db, int rc, std::string_view what);

class SqliteConn final : public sql::Connection {
 public:
  // open opens (creating if |mode| is writer) the database at |path| and
  // applies the connection pragmas: WAL journal, synchronous=FULL,
  // foreign_keys=ON, the busy timeout, and query_only for readers. Fails
  // with Errc::store_error naming the path and pragma.
  static Result<SqliteConn> open(const std::string& path, SqliteMode mode, int busy_timeout_ms);

  SqliteConn() = default;
  SqliteConn(SqliteConn&&) noexcept = default;
  SqliteConn& operator=(SqliteConn&&) noexcept;
  ~SqliteConn() override;

  sql::Dialect dialect() const override { return sql::Dialect::sqlite; }
  Status exec(std::string_view sql) override;
  // exec_control runs the statement from the statement cache (compiled
  // once per connection and text).
  Status exec_control(std::string_view sql) override;
  int changes() const override;
  // begin_write switches synchronous (FULL for full, NORMAL for relaxed:
  // in WAL mode the commit is atomic and the WAL is fsynced at the next
  // checkpoint or full commit) outside the transaction, then BEGIN
  // IMMEDIATE.
  Status begin_write(Durability durability) override;
  Status begin_read() override { return exec_control("BEGIN"); }
  bool in_transaction() const override;

  // pragma_text returns the first column of "PRAGMA <name>" as text.
  Result<std::string> pragma_text(std::string_view name);

  sqlite3* get() const { return db_.get(); }

 protected:
  Result<std::unique_ptr<sql::Statement>> compile(std::string_view sql) override;

 private:
  struct Closer {
    void operator()(sqlite3* db) const;
  };
  std::unique_ptr<sqlite3, Closer> db_;
  Durability synchronous_ = Durability::full;  // the connection's current setting
};

}  // namespace m2msec::store
