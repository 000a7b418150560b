#include "sqlite_conn.h"

#include <sqlite3.h>

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

// SqliteStatement is one sqlite3_stmt.
class SqliteStatement final : public sql::Statement {
 public:
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  Status bind_text(int index, std::string_view text) override {
    return check(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  Status bind_int64(int index, std::int64_t value) override { return check(sqlite3_bind_int64(stmt_, index, value)); }
  Status bind_blob(int index, std::span<const std::uint8_t> bytes) override {
    // A zero-length blob must still be a blob, not NULL: give SQLite a
    // valid pointer.
    static const std::uint8_t kEmpty = 0;
    const void* p = bytes.empty() ? &kEmpty : bytes.data();
    return check(sqlite3_bind_blob64(stmt_, index, p, bytes.size(), SQLITE_TRANSIENT));
  }
  Status bind_null(int index) override { return check(sqlite3_bind_null(stmt_, index)); }

  Result<bool> step() override {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return std::unexpected(sqlite_error(db_, rc, "step"));
  }
  void reset() override {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  bool is_null(int col) const override { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::int64_t column_int64(int col) const override { return sqlite3_column_int64(stmt_, col); }
  std::string column_text(int col) const override {
    const auto* p = sqlite3_column_text(stmt_, col);
    const int n = sqlite3_column_bytes(stmt_, col);
    if (p == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
  }
  std::vector<std::uint8_t> column_blob(int col) const override {
    const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, col));
    const int n = sqlite3_column_bytes(stmt_, col);
    if (p == nullptr || n <= 0) return {};
    return std::vector<std::uint8_t>(p, p + n);
  }

 private:
  Status check(int rc) const {
    if (rc != SQLITE_OK) return std::unexpected(sqlite_error(db_, rc, "bind"));
    return {};
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

}  // namespace

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
  const int ext = db != nullptr ? sqlite3_extended_errcode(db) : rc;
  if (ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE) {
    return Error(Errc::already_exists, std::string(what) + ": " + errmsg(db, rc));
  }
  return Error(Errc::store_error, std::string(what) + ": " + errmsg(db, rc));
}

void SqliteConn::Closer::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

SqliteConn& SqliteConn::operator=(SqliteConn&& other) noexcept {
  if (this != &other) {
    clear_statements();  // finalized while their connection is open
    sql::Connection::operator=(std::move(other));
    db_ = std::move(other.db_);
    synchronous_ = other.synchronous_;
  }
  return *this;
}

SqliteConn::~SqliteConn() { clear_statements(); }

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

Result<std::unique_ptr<sql::Statement>> SqliteConn::compile(std::string_view sql) {
  if (!db_) return fail(Errc::store_error, "connection is not open");
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                    &raw, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(raw);
    return std::unexpected(sqlite_error(db_.get(), rc, "prepare"));
  }
  return std::unique_ptr<sql::Statement>(new SqliteStatement(db_.get(), raw));
}

Status SqliteConn::exec_control(std::string_view sql) {
  Result<sql::Stmt> stmt = prepare(sql);
  if (!stmt) return std::unexpected(stmt.error());
  return stmt->run();
}

int SqliteConn::changes() const { return sqlite3_changes(db_.get()); }

Status SqliteConn::begin_write(Durability durability) {
  if (durability != synchronous_) {
    Status set =
        exec_control(durability == Durability::relaxed ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL");
    // Never commit a full write without FULL; a relaxed one may stay FULL.
    if (set) {
      synchronous_ = durability;
    } else if (durability == Durability::full) {
      return set;
    }
  }
  return exec_control("BEGIN IMMEDIATE");
}

bool SqliteConn::in_transaction() const { return db_ && sqlite3_get_autocommit(db_.get()) == 0; }

Result<std::string> SqliteConn::pragma_text(std::string_view name) {
  Result<sql::Stmt> stmt = prepare("PRAGMA " + std::string(name));
  if (!stmt) return std::unexpected(stmt.error());
  Result<bool> row = stmt->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::string();
  return stmt->column_text(0);
}

}  // namespace m2msec::store
