#include "m2msec/store/sqlite_store.h"

#include "m2msec/store/schema.h"
#include "sqlite_backend.h"
#include "sqlite_maf.h"
#include "sqlite_mef.h"
#include "sqlite_revocations.h"

namespace m2msec::store {
namespace {

constexpr std::string_view kKekCheckName = "kek_check";
constexpr std::string_view kKekCheckPlain = "m2msec key-encryption key check v1";

// verify_kek compares |kek| with the database's check value, or records
// one in a new database. The check value is a sealed constant, so it says
// nothing about the KEK beyond "this one opens it".
Status verify_kek(SqliteConn& conn, const Kek& kek) {
  const std::string aad = seal_aad("meta", "value", kKekCheckName);
  Result<Stmt> q = conn.prepare("SELECT value FROM meta WHERE name = ?1");
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
  Result<Stmt> ins = conn.prepare("INSERT INTO meta (name, value) VALUES (?1, ?2)");
  if (!ins) return std::unexpected(ins.error());
  st = ins->bind_text(1, kKekCheckName);
  if (st) st = ins->bind_blob(2, *blob);
  if (st) st = ins->run();
  return st;
}

class SqliteStore final : public Store {
 public:
  SqliteStore(Kek kek, std::unique_ptr<WriteQueue> writer, std::unique_ptr<detail::ReadPool> reads)
      : kek_(std::move(kek)),
        writer_(std::move(writer)),
        reads_(std::move(reads)),
        mef_(detail::Backend{writer_.get(), reads_.get(), &kek_}),
        maf_(detail::Backend{writer_.get(), reads_.get(), &kek_}),
        revocations_(detail::Backend{writer_.get(), reads_.get(), &kek_}) {}

  ~SqliteStore() override { writer_->stop(); }

  MefRepository& mef() override { return mef_; }
  MafRepository& maf() override { return maf_; }
  RevocationLog& revocations() override { return revocations_; }
  WriteStats write_stats() const override { return writer_->stats(); }

  Status ping() override {
    return detail::guarded([&]() -> Status {
      detail::ReadPool::Lease lease = reads_->acquire();
      Result<Stmt> s = lease.conn().prepare("SELECT value FROM meta LIMIT 1");
      if (!s) return std::unexpected(s.error());
      Result<bool> row = s->step();
      if (!row) return std::unexpected(row.error());
      return {};
    });
  }

  Status check_integrity() override {
    return detail::guarded([&]() -> Status {
      detail::ReadPool::Lease lease = reads_->acquire();
      Result<std::string> ic = lease.conn().pragma_text("integrity_check");
      if (!ic) return std::unexpected(ic.error());
      if (*ic != "ok") return fail(Errc::store_error, "integrity_check: " + *ic);
      Result<Stmt> fk = lease.conn().prepare("PRAGMA foreign_key_check");
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
  detail::SqliteMefRepository mef_;
  detail::SqliteMafRepository maf_;
  detail::SqliteRevocationLog revocations_;
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const SqliteStoreOptions& options, Kek kek) {
  return detail::guarded([&]() -> Result<std::unique_ptr<Store>> {
    if (options.path.empty()) return fail(Errc::invalid_argument, "store path is empty");
    Result<SqliteConn> conn = SqliteConn::open(options.path, SqliteMode::writer, options.busy_timeout_ms);
    if (!conn) return std::unexpected(conn.error());
    Result<int> version = apply_migrations(*conn, schema_migrations());
    if (!version) return std::unexpected(version.error());
    Status kek_ok = verify_kek(*conn, kek);
    if (!kek_ok) return std::unexpected(kek_ok.error());
    Result<std::unique_ptr<detail::ReadPool>> reads =
        detail::ReadPool::open(options.path, options.readers, options.busy_timeout_ms);
    if (!reads) return std::unexpected(reads.error());
    Result<std::unique_ptr<WriteQueue>> writer = WriteQueue::start(std::move(*conn), options.write);
    if (!writer) return std::unexpected(writer.error());
    return std::unique_ptr<Store>(new SqliteStore(std::move(kek), std::move(*writer), std::move(*reads)));
  });
}

}  // namespace m2msec::store
