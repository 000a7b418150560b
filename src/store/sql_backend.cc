#include "sql_backend.h"

namespace m2msec::store::detail {

Result<std::unique_ptr<ReadPool>> ReadPool::open(const Opener& opener, std::size_t n) {
  auto pool = std::make_unique<ReadPool>();
  for (std::size_t i = 0; i < std::max<std::size_t>(n, 1); ++i) {
    Result<std::unique_ptr<sql::Connection>> conn = opener();
    if (!conn) return std::unexpected(conn.error());
    pool->idle_.push_back(std::move(*conn));
  }
  return pool;
}

ReadPool::Lease ReadPool::acquire() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !idle_.empty(); });
  std::unique_ptr<sql::Connection> conn = std::move(idle_.back());
  idle_.pop_back();
  return Lease(this, std::move(conn));
}

void ReadPool::release(std::unique_ptr<sql::Connection> conn) {
  {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(conn));
  }
  cv_.notify_one();
}

Status require_canonical_id(KeyIdKind kind, std::string_view text, std::string_view field) {
  const bool two_encodings = kind == KeyIdKind::ke || kind == KeyIdKind::kc;
  for (IdEncoding enc : {IdEncoding::base64, IdEncoding::hex}) {
    Result<KeyId> id = KeyId::parse(kind, text, enc);
    if (id) {
      if (id->canonical() == text) return {};
      return fail(Errc::invalid_identifier, std::string(field) + " is not in canonical form");
    }
    if (!two_encodings) return fail(Errc::invalid_identifier, std::string(field) + ": " + id.error().message());
  }
  return fail(Errc::invalid_identifier, std::string(field) + " is not a valid " +
                                            std::string(key_id_kind_name(kind)) + " identifier");
}

Result<std::vector<std::uint8_t>> seal_cell(const Kek& kek, std::string_view table, std::string_view column,
                                            std::string_view pk, std::span<const std::uint8_t> secret) {
  return seal(kek, seal_aad(table, column, pk), secret);
}

Result<SecretBytes> open_cell(const Kek& kek, std::string_view table, std::string_view column, std::string_view pk,
                              std::span<const std::uint8_t> blob) {
  Result<SecretBytes> plain = open_sealed(kek, seal_aad(table, column, pk), blob);
  if (!plain) {
    return fail(plain.error().code(), std::string(table) + "." + std::string(column) + " of " + std::string(pk) +
                                          ": " + plain.error().detail());
  }
  return plain;
}

Status check_page(const Page& page) {
  if (page.limit == 0 || page.limit > kMaxPageLimit) {
    return fail(Errc::invalid_argument, "page limit must be 1.." + std::to_string(kMaxPageLimit));
  }
  return {};
}

Result<Stmt> prepare_page(sql::Connection& conn, std::string_view sql, const Page& page) {
  Result<Stmt> s = conn.prepare(sql);
  if (!s) return s;
  Status st = s->bind_text(1, page.after);
  if (st) st = s->bind_int64(2, static_cast<std::int64_t>(page.limit));
  if (!st) return std::unexpected(st.error());
  return s;
}

Result<std::vector<std::uint64_t>> count_row(ReadPool& reads, std::string_view sql, int n) {
  ReadPool::Lease lease = reads.acquire();
  Result<Stmt> s = lease.conn().prepare(sql);
  if (!s) return std::unexpected(s.error());
  Result<bool> row = s->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return fail(Errc::store_error, "count query returned no row");
  std::vector<std::uint64_t> out;
  for (int i = 0; i < n; ++i) out.push_back(static_cast<std::uint64_t>(s->column_int64(i)));
  return out;
}

Status expect_changed(sql::Connection& conn, std::string_view what) {
  if (conn.changes() == 0) return fail(Errc::not_found, std::string(what));
  return {};
}

Result<std::size_t> delete_expired(WriteQueue& writer, std::initializer_list<std::string_view> deletes,
                                   std::int64_t now) {
  return guarded([&]() -> Result<std::size_t> {
    std::size_t removed = 0;
    Status st = writer.run([&](sql::Connection& conn) -> Status {
      removed = 0;  // a retried op counts again from zero
      for (std::string_view sql : deletes) {
        Result<Stmt> del = conn.prepare(sql);
        if (!del) return std::unexpected(del.error());
        Status ok = del->bind_int64(1, now);
        if (ok) ok = del->run();
        if (!ok) return ok;
        removed += static_cast<std::size_t>(conn.changes());
      }
      return {};
    });
    if (!st) return std::unexpected(st.error());
    return removed;
  });
}

}  // namespace m2msec::store::detail
