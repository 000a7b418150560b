// sql.h (private): the small SQL database interface the repositories are
// written against, so that SQLite and PostgreSQL are thin backends (the
// shape of Botan's SQL_Database). Repositories write one SQL text for
// both engines with parameters numbered ?1, ?2, ...; a backend that
// numbers them otherwise (PostgreSQL: $1) rewrites the text when it
// compiles it. What the engines do differently (transactions, durability,
// the schema version, how an error maps) lives behind Connection.
//
// A Connection is used by one thread at a time; the write queue and the
// read pool enforce that.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "m2msec/core/error.h"

namespace m2msec::store {

// Durability says what an acknowledged write survives. full: power loss
// (the commit is flushed to stable storage before it returns). relaxed: a
// process crash, not necessarily a power cut (the commit is atomic and in
// the OS's or the database server's hands, flushed shortly after). Kc
// registrations are relaxed: a Kc lost to a power cut costs a device one
// re-association (docs/storage.md).
enum class Durability { full, relaxed };

namespace sql {

enum class Dialect { sqlite, postgres };

// Statement is one compiled statement of a backend. Binds count from 1,
// columns from 0. step() runs the statement on its first call and then
// moves through the rows: true while a row is available.
class Statement {
 public:
  virtual ~Statement() = default;
  virtual Status bind_text(int index, std::string_view text) = 0;
  virtual Status bind_int64(int index, std::int64_t value) = 0;
  virtual Status bind_blob(int index, std::span<const std::uint8_t> bytes) = 0;
  virtual Status bind_null(int index) = 0;
  virtual Result<bool> step() = 0;
  // reset rewinds the statement and clears its bindings and rows.
  virtual void reset() = 0;
  virtual bool is_null(int col) const = 0;
  virtual std::int64_t column_int64(int col) const = 0;
  virtual std::string column_text(int col) const = 0;
  virtual std::vector<std::uint8_t> column_blob(int col) const = 0;
};

// StmtCache keeps a connection's compiled statements for reuse, keyed by
// SQL text (the repositories' SQL is a fixed set of strings).
struct StmtCache {
  static constexpr std::size_t kCapacity = 64;
  std::unordered_map<std::string, std::unique_ptr<Statement>> idle;
};

// Stmt lends one statement; it goes back to its connection's cache (reset,
// bindings cleared) when the Stmt is destroyed.
class Stmt {
 public:
  Stmt() = default;
  Stmt(std::unique_ptr<Statement> s, StmtCache* cache, std::string sql)
      : s_(std::move(s)), cache_(cache), sql_(std::move(sql)) {}
  Stmt(Stmt&&) noexcept = default;
  Stmt& operator=(Stmt&& other) noexcept;
  ~Stmt();

  Status bind_text(int index, std::string_view text) { return s_->bind_text(index, text); }
  Status bind_int64(int index, std::int64_t value) { return s_->bind_int64(index, value); }
  Status bind_blob(int index, std::span<const std::uint8_t> bytes) { return s_->bind_blob(index, bytes); }
  Status bind_null(int index) { return s_->bind_null(index); }
  // bind_optional binds the value or NULL.
  Status bind_optional(int index, const std::optional<std::string>& text);
  Status bind_optional(int index, const std::optional<std::int64_t>& value);

  Result<bool> step() { return s_->step(); }
  // run steps until done, ignoring rows (for INSERT/UPDATE/DELETE).
  Status run();
  void reset() { s_->reset(); }

  bool is_null(int col) const { return s_->is_null(col); }
  std::int64_t column_int64(int col) const { return s_->column_int64(col); }
  std::string column_text(int col) const { return s_->column_text(col); }
  std::optional<std::string> column_optional_text(int col) const;
  std::optional<std::int64_t> column_optional_int64(int col) const;
  std::vector<std::uint8_t> column_blob(int col) const { return s_->column_blob(col); }

 private:
  void give_back() noexcept;
  std::unique_ptr<Statement> s_;
  StmtCache* cache_ = nullptr;
  std::string sql_;
};

// Connection is one open connection of a backend.
class Connection {
 public:
  Connection();
  virtual ~Connection();
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;

  virtual Dialect dialect() const = 0;

  // exec runs one or more statements that return no rows we need.
  virtual Status exec(std::string_view sql) = 0;
  // exec_control runs one transaction-control statement without
  // parameters that every read or write runs again (BEGIN, COMMIT,
  // ROLLBACK, SAVEPOINT, RELEASE, the durability switch). By default it is
  // exec; SQLite keeps such statements compiled in the statement cache
  // instead of parsing their text each time.
  virtual Status exec_control(std::string_view sql) { return exec(sql); }
  // prepare hands out the statement this connection compiled for the same
  // text before, or compiles it.
  Result<Stmt> prepare(std::string_view sql);
  // cached_statements counts the statements waiting in the cache.
  std::size_t cached_statements() const;

  // changes is the number of rows changed by the last statement run.
  virtual int changes() const = 0;

  // begin_write starts a write transaction (SQLite: BEGIN IMMEDIATE, so
  // it holds the write lock; PostgreSQL: BEGIN) that commits with
  // |durability|. begin_read starts a read-only transaction that sees one
  // snapshot. commit and rollback end either.
  virtual Status begin_write(Durability durability) = 0;
  virtual Status begin_read() = 0;
  Status commit() { return exec_control("COMMIT"); }
  Status rollback() { return exec_control("ROLLBACK"); }

  // in_transaction is false once the engine has ended the transaction on
  // its own (SQLite rolls back on I/O errors; a PostgreSQL connection that
  // dropped): the caller's savepoints are gone with it.
  virtual bool in_transaction() const = 0;

 protected:
  // compile compiles one statement (sql uses ?N parameters).
  virtual Result<std::unique_ptr<Statement>> compile(std::string_view sql) = 0;
  // clear_statements drops every cached statement: before the backend
  // closes its handle, or when a reconnect invalidated them.
  void clear_statements();

 private:
  std::unique_ptr<StmtCache> cache_;
};

// with_savepoint runs |f| inside SAVEPOINT |name|: on failure its changes
// (and only its own) are rolled back and its error returned. Both engines
// need this for "try, and go on if it fails" inside one transaction
// (PostgreSQL refuses every statement after an error until the rollback).
template <typename F>
Status with_savepoint(Connection& conn, std::string_view name, F&& f) {
  const std::string n(name);
  if (Status st = conn.exec_control("SAVEPOINT " + n); !st) return st;
  Status result = f();
  if (!conn.in_transaction()) return result;
  if (!result) {
    (void)conn.exec_control("ROLLBACK TO " + n);
    (void)conn.exec_control("RELEASE " + n);
    return result;
  }
  if (Status rel = conn.exec_control("RELEASE " + n); !rel) {
    (void)conn.exec_control("ROLLBACK TO " + n);
    (void)conn.exec_control("RELEASE " + n);
    return rel;
  }
  return result;
}

}  // namespace sql
}  // namespace m2msec::store
