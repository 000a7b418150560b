#include "m2msec/store/sqlite_conn.h"

#include <sqlite3.h>

#include <unordered_map>

namespace m2msec::store {
namespace {

std::string errmsg(sqlite3* db, int rc) {
  std::string out = sqlite3_errstr(rc);
  if (db != nullptr) {
    const char* msg = sqlite3_errmsg(db);
    if (msg != nullptr && out != msg) {
      out += " (";
      out += msg;
      out += ")";
    }
  }
  return out;
}

}  // namespace

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
  const int ext = db != nullptr ? sqlite3_extended_errcode(db) : rc;
  if (ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE) {
    return Error(Errc::already_exists, std::string(what) + ": " + errmsg(db, rc));
  }
  return Error(Errc::store_error, std::string(what) + ": " + errmsg(db, rc));
}

struct StmtCache {
  // The repositories use a few dozen distinct statements; anything beyond
  // this is finalized instead of kept.
  static constexpr std::size_t kCapacity = 64;
  std::unordered_map<std::string, sqlite3_stmt*> idle;
};

void StmtFinalizer::operator()(sqlite3_stmt* s) const {
  if (s == nullptr) return;
  if (cache != nullptr && cache->idle.size() < StmtCache::kCapacity) {
    // reset drops the rows and clear_bindings the bound values, so an
    // idle statement holds nothing of the last call.
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    try {
      if (cache->idle.emplace(sql, s).second) return;
    } catch (...) {
      // Out of memory: finalize below.
    }
  }
  sqlite3_finalize(s);
}

void SqliteConn::Closer::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

void SqliteConn::CacheDeleter::operator()(StmtCache* c) const {
  for (auto& [sql, s] : c->idle) sqlite3_finalize(s);
  delete c;
}

Status Stmt::bind_text(int index, std::string_view text) {
  const int rc = sqlite3_bind_text64(stmt_.get(), index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) return std::unexpected(sqlite_error(db_, rc, "bind"));
  return {};
}

Status Stmt::bind_int64(int index, std::int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_.get(), index, value);
  if (rc != SQLITE_OK) return std::unexpected(sqlite_error(db_, rc, "bind"));
  return {};
}

Status Stmt::bind_blob(int index, std::span<const std::uint8_t> bytes) {
  // A zero-length blob must still be a blob, not NULL: give SQLite a
  // valid pointer.
  static const std::uint8_t kEmpty = 0;
  const void* p = bytes.empty() ? &kEmpty : bytes.data();
  const int rc = sqlite3_bind_blob64(stmt_.get(), index, p, bytes.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) return std::unexpected(sqlite_error(db_, rc, "bind"));
  return {};
}

Status Stmt::bind_null(int index) {
  const int rc = sqlite3_bind_null(stmt_.get(), index);
  if (rc != SQLITE_OK) return std::unexpected(sqlite_error(db_, rc, "bind"));
  return {};
}

Status Stmt::bind_optional(int index, const std::optional<std::string>& text) {
  if (!text) return bind_null(index);
  return bind_text(index, *text);
}

Status Stmt::bind_optional(int index, const std::optional<std::int64_t>& value) {
  if (!value) return bind_null(index);
  return bind_int64(index, *value);
}

Result<bool> Stmt::step() {
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return std::unexpected(sqlite_error(db_, rc, "step"));
}

Status Stmt::run() {
  while (true) {
    Result<bool> row = step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return {};
  }
}

void Stmt::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

bool Stmt::is_null(int col) const { return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL; }

std::int64_t Stmt::column_int64(int col) const { return sqlite3_column_int64(stmt_.get(), col); }

std::string Stmt::column_text(int col) const {
  const auto* p = sqlite3_column_text(stmt_.get(), col);
  const int n = sqlite3_column_bytes(stmt_.get(), col);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

std::optional<std::string> Stmt::column_optional_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return column_text(col);
}

std::optional<std::int64_t> Stmt::column_optional_int64(int col) const {
  if (is_null(col)) return std::nullopt;
  return column_int64(col);
}

std::vector<std::uint8_t> Stmt::column_blob(int col) const {
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_.get(), col));
  const int n = sqlite3_column_bytes(stmt_.get(), col);
  if (p == nullptr || n <= 0) return {};
  return std::vector<std::uint8_t>(p, p + n);
}

Result<SqliteConn> SqliteConn::open(const std::string& path, SqliteMode mode, int busy_timeout_ms) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (mode == SqliteMode::writer) flags |= SQLITE_OPEN_CREATE;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  SqliteConn conn;
  conn.db_.reset(raw);
  if (rc != SQLITE_OK) return fail(Errc::store_error, path + ": open: " + errmsg(raw, rc));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);

  // WAL lets readers run beside the single writer. synchronous=FULL makes
  // every COMMIT fsync the WAL before returning, so an acknowledged write
  // survives power loss (see docs/storage.md).
  Result<std::string> journal = conn.pragma_text("journal_mode=WAL");
  if (!journal) return std::unexpected(journal.error());
  if (*journal != "wal") return fail(Errc::store_error, path + ": journal_mode=WAL refused (got " + *journal + ")");
  std::string pragmas = "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF;";
  if (mode == SqliteMode::reader) pragmas += " PRAGMA query_only=ON;";
  Status st = conn.exec(pragmas);
  if (!st) return fail(Errc::store_error, path + ": " + st.error().detail());
  return conn;
}

Status SqliteConn::exec(std::string_view sql) {
  const std::string text(sql);
  char* msg = nullptr;
  const int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &msg);
  sqlite3_free(msg);
  if (rc != SQLITE_OK) return std::unexpected(sqlite_error(db_.get(), rc, "exec"));
  return {};
}

Result<Stmt> SqliteConn::prepare(std::string_view sql) {
  std::string key(sql);
  if (!cache_) cache_.reset(new StmtCache());
  if (auto it = cache_->idle.find(key); it != cache_->idle.end()) {
    sqlite3_stmt* raw = it->second;
    cache_->idle.erase(it);
    return Stmt(db_.get(), raw, cache_.get(), std::move(key));
  }
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                    &raw, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(raw);
    return std::unexpected(sqlite_error(db_.get(), rc, "prepare"));
  }
  return Stmt(db_.get(), raw, cache_.get(), std::move(key));
}

std::size_t SqliteConn::cached_statements() const { return cache_ ? cache_->idle.size() : 0; }

int SqliteConn::changes() const { return sqlite3_changes(db_.get()); }

Result<std::string> SqliteConn::pragma_text(std::string_view name) {
  Result<Stmt> stmt = prepare("PRAGMA " + std::string(name));
  if (!stmt) return std::unexpected(stmt.error());
  Result<bool> row = stmt->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::string();
  return stmt->column_text(0);
}

}  // namespace m2msec::store
