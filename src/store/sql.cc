#include "sql.h"

namespace m2msec::store::sql {

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    give_back();
    s_ = std::move(other.s_);
    cache_ = other.cache_;
    sql_ = std::move(other.sql_);
  }
  return *this;
}

Stmt::~Stmt() { give_back(); }

void Stmt::give_back() noexcept {
  if (!s_) return;
  // reset drops the rows and the bound values, so an idle statement holds
  // nothing of the last call.
  s_->reset();
  if (cache_ != nullptr && cache_->idle.size() < StmtCache::kCapacity) {
    try {
      cache_->idle.emplace(std::move(sql_), std::move(s_));
    } catch (...) {
      // Out of memory: the statement is simply dropped.
    }
  }
  s_.reset();
}

Status Stmt::bind_optional(int index, const std::optional<std::string>& text) {
  if (!text) return bind_null(index);
  return bind_text(index, *text);
}

Status Stmt::bind_optional(int index, const std::optional<std::int64_t>& value) {
  if (!value) return bind_null(index);
  return bind_int64(index, *value);
}

Status Stmt::run() {
  while (true) {
    Result<bool> row = step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return {};
  }
}

std::optional<std::string> Stmt::column_optional_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return column_text(col);
}

std::optional<std::int64_t> Stmt::column_optional_int64(int col) const {
  if (is_null(col)) return std::nullopt;
  return column_int64(col);
}

Connection::Connection() : cache_(std::make_unique<StmtCache>()) {}
Connection::~Connection() = default;
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;

Result<Stmt> Connection::prepare(std::string_view sql) {
  std::string key(sql);
  if (!cache_) cache_ = std::make_unique<StmtCache>();
  if (auto it = cache_->idle.find(key); it != cache_->idle.end()) {
    std::unique_ptr<Statement> s = std::move(it->second);
    cache_->idle.erase(it);
    return Stmt(std::move(s), cache_.get(), std::move(key));
  }
  Result<std::unique_ptr<Statement>> s = compile(sql);
  if (!s) return std::unexpected(s.error());
  return Stmt(std::move(*s), cache_.get(), std::move(key));
}

std::size_t Connection::cached_statements() const { return cache_ ? cache_->idle.size() : 0; }

void Connection::clear_statements() {
  if (cache_) cache_->idle.clear();
}

}  // namespace m2msec::store::sql
