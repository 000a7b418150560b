// pg_conn.h (private): the PostgreSQL backend of the SQL interface (sql.h),
// over libpq.
//
// Statements are prepared on the server (named per connection) the first
// time they run; parameters go as text, blobs in binary; results come back
// in binary format. A connection that dropped is re-established (PQreset)
// the next time it is used outside a transaction, and its statements are
// prepared again; a read that finds the connection gone is retried once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "m2msec/core/secret.h"
#include "sql.h"

namespace m2msec::store {

// pg_placeholders rewrites ?N parameters as $N, outside quoted text, and
// reports the highest N (the parameter count). Exposed for its test.
std::string pg_placeholders(std::string_view sql, int* count);

class PgConn final : public sql::Connection {
 public:
  // connect opens a connection with |conninfo| (a libpq keyword string or
  // URI, which must not hold a password: Errc::invalid_argument) and
  // |password| (may be empty). Errc::store_error with libpq's reason.
  static Result<PgConn> connect(const std::string& conninfo, std::string_view password, int connect_timeout_s);

  PgConn() = default;
  PgConn(PgConn&&) noexcept;
  PgConn& operator=(PgConn&&) noexcept;
  ~PgConn() override;

  sql::Dialect dialect() const override { return sql::Dialect::postgres; }
  Status exec(std::string_view sql) override;
  int changes() const override;
  // begin_write: BEGIN, and for relaxed SET LOCAL synchronous_commit = off
  // (the commit returns before its WAL reaches disk; a server crash may
  // lose it, never half of it). begin_read: REPEATABLE READ READ ONLY, so
  // every statement of it reads one snapshot.
  Status begin_write(Durability durability) override;
  Status begin_read() override;
  bool in_transaction() const override;

  // The state statements share with their connection; stable across moves.
  struct Shared;

 protected:
  Result<std::unique_ptr<sql::Statement>> compile(std::string_view sql) override;

 private:
  std::unique_ptr<Shared> shared_;
};

}  // namespace m2msec::store
