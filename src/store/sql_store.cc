// sql_store.cc: the Store over the SQL interface, and how each engine's
// store is opened.
#include "m2msec/store/postgres_store.h"
#include "m2msec/store/sqlite_store.h"
#include "pg_conn.h"
#include "schema.h"
#include "sql_backend.h"
#include "sql_maf.h"
#include "sql_mef.h"
#include "sql_resources.h"
#include "sql_revocations.h"
#include "sqlite_conn.h"

namespace m2msec::store {
namespace {

constexpr std::string_view kKekCheckName = "kek_check";
constexpr std::string_view kKekCheckPlain = "m2msec key-encryption key check v1";

// verify_kek compares |kek| with the database's check value, or records
// one in a new database. The check value is a sealed constant, so it says
// nothing about the KEK beyond "this one opens it".
Status verify_kek(sql::Connection& conn, const Kek& kek) {
  const std::string aad = seal_aad("meta", "value", kKekCheckName);
  Result<sql::Stmt> q = conn.prepare("SELECT value FROM meta WHERE name = ?1");
  if (!q) return std::unexpected(q.error());
  Status st = q->bind_text(1, kKekCheckName);
  if (!st) return st;
  Result<bool> row = q->step();
  if (!row) return std::unexpected(row.error());
  if (*row) {
    Result<SecretBytes> plain = open_sealed(kek, aad, q->column_blob(0));
    if (!plain) return fail(Errc::wrong_kek, "the KEK does not open this database's check value");
    return {};
  }
  const auto* p = reinterpret_cast<const std::uint8_t*>(kKekCheckPlain.data());
  Result<std::vector<std::uint8_t>> blob = seal(kek, aad, {p, kKekCheckPlain.size()});
  if (!blob) return std::unexpected(blob.error());
  // ON CONFLICT: a replica opening a new database at the same moment may
  // have recorded its own; then the one that stands is checked again.
  Result<sql::Stmt> ins = conn.prepare("INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING");
  if (!ins) return std::unexpected(ins.error());
  st = ins->bind_text(1, kKekCheckName);
  if (st) st = ins->bind_blob(2, *blob);
  if (st) st = ins->run();
  if (st && conn.changes() == 0) {
    q->reset();
    return verify_kek(conn, kek);
  }
  return st;
}

class SqlStore final : public Store {
 public:
  SqlStore(Kek kek, std::unique_ptr<WriteQueue> writer, std::unique_ptr<detail::ReadPool> reads, sql::Dialect dialect)
      : kek_(std::move(kek)),
        writer_(std::move(writer)),
        reads_(std::move(reads)),
        mef_(detail::Backend{writer_.get(), reads_.get(), &kek_}),
        maf_(detail::Backend{writer_.get(), reads_.get(), &kek_}),
        revocations_(detail::Backend{writer_.get(), reads_.get(), &kek_}),
        resources_(detail::Backend{writer_.get(), reads_.get(), &kek_}),
        dialect_(dialect) {}

  ~SqlStore() override { writer_->stop(); }

  MefRepository& mef() override { return mef_; }
  MafRepository& maf() override { return maf_; }
  RevocationLog& revocations() override { return revocations_; }
  ResourceRepository& resources() override { return resources_; }
  WriteStats write_stats() const override { return writer_->stats(); }

  Status ping() override {
    return detail::guarded([&]() -> Status {
      detail::ReadPool::Lease lease = reads_->acquire();
      Result<sql::Stmt> s = lease.conn().prepare("SELECT value FROM meta LIMIT 1");
      if (!s) return std::unexpected(s.error());
      Result<bool> row = s->step();
      if (!row) return std::unexpected(row.error());
      return {};
    });
  }

  Status check_integrity() override {
    return detail::guarded([&]() -> Status {
      detail::ReadPool::Lease lease = reads_->acquire();
      if (dialect_ == sql::Dialect::postgres) {
        Result<int> v = schema_version(lease.conn());
        if (!v) return std::unexpected(v.error());
        return verify_kek(lease.conn(), kek_);
      }
      Result<sql::Stmt> ic = lease.conn().prepare("PRAGMA integrity_check");
      if (!ic) return std::unexpected(ic.error());
      Result<bool> first = ic->step();
      if (!first) return std::unexpected(first.error());
      if (!*first || ic->column_text(0) != "ok") {
        return fail(Errc::store_error, "integrity_check: " + (*first ? ic->column_text(0) : std::string("no answer")));
      }
      Result<sql::Stmt> fk = lease.conn().prepare("PRAGMA foreign_key_check");
      if (!fk) return std::unexpected(fk.error());
      Result<bool> row = fk->step();
      if (!row) return std::unexpected(row.error());
      if (*row) return fail(Errc::store_error, "foreign_key_check: dangling reference in " + fk->column_text(0));
      return {};
    });
  }

 private:
  Kek kek_;
  std::unique_ptr<WriteQueue> writer_;
  std::unique_ptr<detail::ReadPool> reads_;
  detail::SqlMefRepository mef_;
  detail::SqlMafRepository maf_;
  detail::SqlRevocationLog revocations_;
  detail::SqlResourceRepository resources_;
  sql::Dialect dialect_;
};

// open_sql_store migrates the database through |writer|, checks the KEK,
// opens the read pool and starts the write queue.
Result<std::unique_ptr<Store>> open_sql_store(std::unique_ptr<sql::Connection> writer,
                                              const detail::ReadPool::Opener& reader, std::size_t readers,
                                              const WriteQueueOptions& write, Kek kek) {
  const sql::Dialect dialect = writer->dialect();
  Result<int> version = apply_migrations(*writer, schema_migrations(dialect));
  if (!version) return std::unexpected(version.error());
  Status kek_ok = verify_kek(*writer, kek);
  if (!kek_ok) return std::unexpected(kek_ok.error());
  Result<std::unique_ptr<detail::ReadPool>> reads = detail::ReadPool::open(reader, readers);
  if (!reads) return std::unexpected(reads.error());
  Result<std::unique_ptr<WriteQueue>> queue = WriteQueue::start(std::move(writer), write);
  if (!queue) return std::unexpected(queue.error());
  return std::unique_ptr<Store>(new SqlStore(std::move(kek), std::move(*queue), std::move(*reads), dialect));
}

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const SqliteStoreOptions& options, Kek kek) {
  return detail::guarded([&]() -> Result<std::unique_ptr<Store>> {
    if (options.path.empty()) return fail(Errc::invalid_argument, "store path is empty");
    Result<SqliteConn> conn = SqliteConn::open(options.path, SqliteMode::writer, options.busy_timeout_ms);
    if (!conn) return std::unexpected(conn.error());
    auto reader = [&]() -> Result<std::unique_ptr<sql::Connection>> {
      Result<SqliteConn> c = SqliteConn::open(options.path, SqliteMode::reader, options.busy_timeout_ms);
      if (!c) return std::unexpected(c.error());
      return std::make_unique<SqliteConn>(std::move(*c));
    };
    return open_sql_store(std::make_unique<SqliteConn>(std::move(*conn)), reader, options.readers, options.write,
                          std::move(kek));
  });
}

Result<std::unique_ptr<Store>> open_postgres_store(const PostgresStoreOptions& options, Kek kek) {
  return detail::guarded([&]() -> Result<std::unique_ptr<Store>> {
    if (options.conninfo.empty()) return fail(Errc::invalid_argument, "conninfo is empty");
    auto connect = [&]() -> Result<std::unique_ptr<sql::Connection>> {
      Result<PgConn> c = PgConn::connect(options.conninfo, options.password.view(), options.connect_timeout_s);
      if (!c) return std::unexpected(c.error());
      return std::make_unique<PgConn>(std::move(*c));
    };
    Result<std::unique_ptr<sql::Connection>> writer = connect();
    if (!writer) return std::unexpected(writer.error());
    return open_sql_store(std::move(*writer), connect, options.readers, options.write, std::move(kek));
  });
}

}  // namespace m2msec::store
