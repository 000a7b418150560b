// sql_backend.h (private): what the repositories share, whatever the
// engine: the read connection pool, the write queue, the KEK, and small
// helpers.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <string_view>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/core/ids.h"
#include "m2msec/store/listing.h"
#include "m2msec/store/records.h"
#include "m2msec/store/secret_box.h"
#include "sql.h"
#include "write_queue.h"

namespace m2msec::store::detail {

using sql::Stmt;

// ReadPool holds the read connections (SQLite: query_only, and WAL lets
// them read while the writer commits). acquire() blocks until one is free.
class ReadPool {
 public:
  using Opener = std::function<Result<std::unique_ptr<sql::Connection>>()>;
  // open opens |n| (at least 1) connections with |opener|.
  static Result<std::unique_ptr<ReadPool>> open(const Opener& opener, std::size_t n);

  // Lease returns its connection to the pool on destruction.
  class Lease {
   public:
    Lease(ReadPool* pool, std::unique_ptr<sql::Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { pool_->release(std::move(conn_)); }
    sql::Connection& conn() { return *conn_; }

   private:
    ReadPool* pool_;
    std::unique_ptr<sql::Connection> conn_;
  };

  Lease acquire();

 private:
  void release(std::unique_ptr<sql::Connection> conn);
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<sql::Connection>> idle_;
};

// Backend is the context every repository works in. Not owning.
struct Backend {
  WriteQueue* writer;
  ReadPool* reads;
  const Kek* kek;
};

// guarded runs |f| and converts any escaping exception (bad_alloc, a
// system_error from a mutex) into Errc::store_error, keeping the module's
// no-exceptions contract.
template <typename F>
auto guarded(F&& f) noexcept -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return fail(Errc::store_error, e.what());
  } catch (...) {
    return fail(Errc::store_error, "unknown exception");
  }
}

// require_canonical_id checks that |text| parses as a |kind| key identifier
// (either encoding for ke and kc) and is already in canonical form. Fails
// with Errc::invalid_identifier naming |field|.
Status require_canonical_id(KeyIdKind kind, std::string_view text, std::string_view field);

// seal_cell and open_cell seal one secret cell with the AAD of
// (table, column, primary key); see secret_box.h.
Result<std::vector<std::uint8_t>> seal_cell(const Kek& kek, std::string_view table, std::string_view column,
                                            std::string_view pk, std::span<const std::uint8_t> secret);
Result<SecretBytes> open_cell(const Kek& kek, std::string_view table, std::string_view column, std::string_view pk,
                              std::span<const std::uint8_t> blob);

// check_page accepts 1 <= page.limit <= kMaxPageLimit; otherwise
// Errc::invalid_argument.
Status check_page(const Page& page);

// collect steps |s| to the end and returns decode(s) for each row
// (decode returns Result<T>); the first failing step or decode fails the
// whole call.
template <typename T, typename Decode>
Result<std::vector<T>> collect(sql::Stmt& s, Decode decode) {
  std::vector<T> out;
  while (true) {
    Result<bool> row = s.step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return out;
    Result<T> item = decode(s);
    if (!item) return std::unexpected(item.error());
    out.push_back(std::move(*item));
  }
}

// prepare_page prepares |sql| with the page bound as ?1 (after) and ?2
// (limit).
Result<Stmt> prepare_page(sql::Connection& conn, std::string_view sql, const Page& page);

// import_all is the shape of every all-or-nothing bulk import. |seal|
// (const Row& -> Result<Sealed>) checks and seals each row on the caller's
// thread; then one write op runs |insert| (sql::Connection&, const Sealed&
// -> Result<std::optional<Error>>) for every row that sealed: nullopt if
// the row went in, an Error if it was refused (a collision), a failure to
// stop at once (database trouble). Every valid row is tried even when some
// are refused, so one attempt reports every bad row. If any row was
// refused the op rolls back, the result is Errc::import_rejected and
// |out_errors| (if not null) receives the RowErrors sorted by row;
// otherwise the result is rows.size().
template <typename Row, typename Seal, typename Insert>
Result<std::size_t> import_all(WriteQueue& writer, std::span<const Row> rows, Seal seal, Insert insert,
                               std::vector<RowError>* out_errors) {
  using Sealed = typename std::invoke_result_t<Seal&, const Row&>::value_type;
  std::vector<RowError> errors;
  std::vector<std::pair<std::size_t, Sealed>> sealed;
  sealed.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    Result<Sealed> s = seal(rows[i]);
    if (!s) {
      errors.push_back({i + 1, s.error()});
      continue;
    }
    sealed.emplace_back(i + 1, std::move(*s));
  }
  const std::size_t invalid = errors.size();
  Status written = writer.run([&](sql::Connection& conn) -> Status {
    errors.erase(errors.begin() + static_cast<std::ptrdiff_t>(invalid), errors.end());  // a retried op starts over
    for (const auto& [row, s] : sealed) {
      Result<std::optional<Error>> refused = insert(conn, s);
      if (!refused) return std::unexpected(refused.error());
      if (*refused) errors.push_back({row, std::move(**refused)});
    }
    if (!errors.empty()) return fail(Errc::import_rejected);
    return {};
  });
  std::sort(errors.begin(), errors.end(), [](const RowError& a, const RowError& b) { return a.row < b.row; });
  const std::size_t refused = errors.size();
  if (out_errors != nullptr) *out_errors = std::move(errors);
  if (!written) {
    if (written.error().code() == Errc::import_rejected || refused > 0) {
      return fail(Errc::import_rejected,
                  std::to_string(refused) + " of " + std::to_string(rows.size()) + " rows refused");
    }
    return std::unexpected(written.error());
  }
  return rows.size();
}

// count_row runs |sql| on a read connection; it must return one row of
// |n| integer columns, which are returned in order. One statement reads
// one snapshot, so the counts agree with each other. Errc::store_error if
// no row comes back.
Result<std::vector<std::uint64_t>> count_row(ReadPool& reads, std::string_view sql, int n);

// delete_expired runs each of |deletes| (a DELETE with ?1 = now) in one
// write transaction and returns how many rows they deleted in all.
Result<std::size_t> delete_expired(WriteQueue& writer, std::initializer_list<std::string_view> deletes,
                                   std::int64_t now);

// expect_changed maps "no row changed" to Errc::not_found naming |what|.
Status expect_changed(sql::Connection& conn, std::string_view what);

}  // namespace m2msec::store::detail
