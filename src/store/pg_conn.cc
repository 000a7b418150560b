#include "pg_conn.h"

#include <libpq-fe.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

namespace m2msec::store {

struct PgConn::Shared {
  PGconn* conn = nullptr;
  // generation counts (re)connections: a statement prepared under an
  // earlier one is prepared again.
  std::uint64_t generation = 1;
  std::uint64_t next_name = 0;
  int last_changes = 0;

  ~Shared() {
    if (conn != nullptr) PQfinish(conn);
  }

  bool in_transaction() const {
    if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) return false;
    const PGTransactionStatusType t = PQtransactionStatus(conn);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
  }

  // ensure_open re-establishes a dropped connection, outside a transaction
  // only (inside one, the transaction is lost and the caller must learn it).
  Status ensure_open() {
    if (conn == nullptr) return fail(Errc::store_error, "PostgreSQL connection is not open");
    if (PQstatus(conn) == CONNECTION_OK) return {};
    PQreset(conn);
    ++generation;
    if (PQstatus(conn) != CONNECTION_OK) {
      return fail(Errc::store_error, "PostgreSQL connection lost: " + message());
    }
    return {};
  }

  std::string message() const {
    std::string m = conn != nullptr ? PQerrorMessage(conn) : "no connection";
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m;
  }
};

namespace {

// error_of maps a failed result: unique_violation (23505) becomes
// Errc::already_exists, with the constraint's name in the detail (the
// repositories tell which field collided by it); anything else
// Errc::store_error.
Error error_of(PGconn* conn, const PGresult* res, std::string_view what) {
  const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = res != nullptr ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string text = primary != nullptr ? primary : (conn != nullptr ? PQerrorMessage(conn) : "no connection");
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (state != nullptr && std::strcmp(state, "23505") == 0) {
    const char* constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
    return Error(Errc::already_exists,
                 std::string(what) + ": " + text + (constraint != nullptr ? std::string(" (") + constraint + ")" : ""));
  }
  return Error(Errc::store_error,
               std::string(what) + ": " + text + (state != nullptr ? std::string(" [") + state + "]" : ""));
}

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultFree>;

bool succeeded(const PGresult* r) {
  const ExecStatusType s = PQresultStatus(r);
  return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

int changes_of(const PGresult* r) {
  const char* n = PQcmdTuples(const_cast<PGresult*>(r));
  return (n != nullptr && *n != '\0') ? std::atoi(n) : 0;
}

std::int64_t big_endian(const char* p, int len) {
  std::uint64_t v = 0;
  for (int i = 0; i < len; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  // Sign-extend the 2- and 4-byte integers.
  if (len < 8 && len > 0 && (static_cast<unsigned char>(p[0]) & 0x80) != 0) v |= ~std::uint64_t{0} << (8 * len);
  return static_cast<std::int64_t>(v);
}

class PgStatement final : public sql::Statement {
 public:
  PgStatement(PgConn::Shared* shared, std::string sql, int params)
      : shared_(shared), sql_(std::move(sql)), values_(static_cast<std::size_t>(params)),
        formats_(static_cast<std::size_t>(params), 0) {}

  Status bind_text(int index, std::string_view text) override { return put(index, std::string(text), 0); }
  Status bind_int64(int index, std::int64_t value) override { return put(index, std::to_string(value), 0); }
  Status bind_blob(int index, std::span<const std::uint8_t> bytes) override {
    return put(index, std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()), 1);
  }
  Status bind_null(int index) override { return put(index, std::nullopt, 0); }

  Result<bool> step() override {
    if (!res_) {
      const bool retry = !shared_->in_transaction();
      Status st = execute();
      // A read outside a transaction that found the connection gone is
      // tried once more on a fresh one.
      if (!st && retry && PQstatus(shared_->conn) != CONNECTION_OK) st = execute();
      if (!st) return std::unexpected(st.error());
      row_ = 0;
    } else {
      ++row_;
    }
    return row_ < PQntuples(res_.get());
  }

  void reset() override {
    res_.reset();
    row_ = -1;
    for (auto& v : values_) v.reset();
    std::fill(formats_.begin(), formats_.end(), 0);
  }

  bool is_null(int col) const override { return PQgetisnull(res_.get(), row_, col) != 0; }
  std::int64_t column_int64(int col) const override {
    if (is_null(col)) return 0;
    return big_endian(PQgetvalue(res_.get(), row_, col), PQgetlength(res_.get(), row_, col));
  }
  std::string column_text(int col) const override {
    if (is_null(col)) return {};
    return std::string(PQgetvalue(res_.get(), row_, col), static_cast<std::size_t>(PQgetlength(res_.get(), row_, col)));
  }
  std::vector<std::uint8_t> column_blob(int col) const override {
    if (is_null(col)) return {};
    const auto* p = reinterpret_cast<const std::uint8_t*>(PQgetvalue(res_.get(), row_, col));
    return std::vector<std::uint8_t>(p, p + PQgetlength(res_.get(), row_, col));
  }

 private:
  Status put(int index, std::optional<std::string> value, int format) {
    if (index < 1 || static_cast<std::size_t>(index) > values_.size()) {
      return fail(Errc::store_error, "bind: no parameter " + std::to_string(index));
    }
    values_[static_cast<std::size_t>(index - 1)] = std::move(value);
    formats_[static_cast<std::size_t>(index - 1)] = format;
    return {};
  }

  Status execute() {
    if (!shared_->in_transaction()) {
      if (Status st = shared_->ensure_open(); !st) return st;
    }
    PGconn* conn = shared_->conn;
    if (prepared_ != shared_->generation) {
      name_ = "m2msec_" + std::to_string(++shared_->next_name);
      ResultPtr prep(PQprepare(conn, name_.c_str(), sql_.c_str(), static_cast<int>(values_.size()), nullptr));
      if (!prep || !succeeded(prep.get())) return std::unexpected(error_of(conn, prep.get(), "prepare"));
      prepared_ = shared_->generation;
    }
    std::vector<const char*> values(values_.size());
    std::vector<int> lengths(values_.size());
    for (std::size_t i = 0; i < values_.size(); ++i) {
      if (values_[i]) {
        values[i] = values_[i]->data();
        lengths[i] = static_cast<int>(values_[i]->size());
      }
    }
    res_.reset(PQexecPrepared(conn, name_.c_str(), static_cast<int>(values_.size()), values.data(), lengths.data(),
                              formats_.data(), /*resultFormat=binary*/ 1));
    if (!res_ || !succeeded(res_.get())) {
      Error e = error_of(conn, res_.get(), "step");
      res_.reset();
      if (PQstatus(conn) != CONNECTION_OK) prepared_ = 0;
      return std::unexpected(std::move(e));
    }
    shared_->last_changes = changes_of(res_.get());
    return {};
  }

  PgConn::Shared* shared_;
  std::string sql_;
  std::string name_;
  std::uint64_t prepared_ = 0;  // the generation it was prepared under; 0: not yet
  std::vector<std::optional<std::string>> values_;
  std::vector<int> formats_;
  ResultPtr res_;
  int row_ = -1;
};

void ignore_notice(void*, const char*) {}

}  // namespace

std::string pg_placeholders(std::string_view sql, int* count) {
  std::string out;
  out.reserve(sql.size());
  int highest = 0;
  char quote = 0;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote != 0) {
      if (c == quote) quote = 0;  // a doubled quote re-enters at once
      out += c;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      out += c;
      continue;
    }
    if (c == '?' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
      int n = 0;
      out += '$';
      while (i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
        n = n * 10 + (sql[i + 1] - '0');
        out += sql[++i];
      }
      highest = std::max(highest, n);
      continue;
    }
    out += c;
  }
  if (count != nullptr) *count = highest;
  return out;
}

Status check_conninfo(const std::string& conninfo) {
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &parse_error);
  if (parsed == nullptr) {
    std::string why = parse_error != nullptr ? parse_error : "out of memory";
    PQfreemem(parse_error);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return fail(Errc::invalid_argument, "conninfo: " + why);
  }
  bool has_password = false;
  for (PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
    if (std::strcmp(o->keyword, "password") == 0 && o->val != nullptr && *o->val != '\0') has_password = true;
  }
  PQconninfoFree(parsed);
  if (has_password) {
    return fail(Errc::invalid_argument, "conninfo must not hold a password: give it in a 0600 password_file");
  }
  return {};
}

Result<PgConn> PgConn::connect(const std::string& conninfo, std::string_view password, int connect_timeout_s) {
  if (Status st = check_conninfo(conninfo); !st) return std::unexpected(st.error());
  // Keywords after dbname override what the expanded conninfo says.
  const std::string pw(password);
  const std::string timeout = std::to_string(connect_timeout_s);
  std::array<const char*, 5> keys = {"dbname", "connect_timeout", "fallback_application_name", nullptr, nullptr};
  std::array<const char*, 5> vals = {conninfo.c_str(), timeout.c_str(), "m2msec", nullptr, nullptr};
  if (!pw.empty()) {
    keys[3] = "password";
    vals[3] = pw.c_str();
  }
  PgConn out;
  out.shared_ = std::make_unique<Shared>();
  out.shared_->conn = PQconnectdbParams(keys.data(), vals.data(), /*expand_dbname=*/1);
  secure_wipe(const_cast<char*>(pw.data()), pw.size());
  if (out.shared_->conn == nullptr) return fail(Errc::store_error, "PostgreSQL: out of memory");
  if (PQstatus(out.shared_->conn) != CONNECTION_OK) {
    return fail(Errc::store_error, "cannot connect to PostgreSQL: " + out.shared_->message());
  }
  PQsetNoticeProcessor(out.shared_->conn, ignore_notice, nullptr);
  // A full commit waits for its WAL flush, whatever the server's default.
  if (Status st = out.exec("SET synchronous_commit = on"); !st) return std::unexpected(st.error());
  return out;
}

PgConn::PgConn(PgConn&& other) noexcept : sql::Connection(std::move(other)), shared_(std::move(other.shared_)) {}

PgConn& PgConn::operator=(PgConn&& other) noexcept {
  if (this != &other) {
    clear_statements();
    sql::Connection::operator=(std::move(other));
    shared_ = std::move(other.shared_);
  }
  return *this;
}

PgConn::~PgConn() { clear_statements(); }

Status PgConn::exec(std::string_view sql) {
  if (!shared_) return fail(Errc::store_error, "PostgreSQL connection is not open");
  if (!shared_->in_transaction()) {
    if (Status st = shared_->ensure_open(); !st) return st;
  }
  const bool retry = !shared_->in_transaction();
  const std::string text(sql);
  ResultPtr res(PQexec(shared_->conn, text.c_str()));
  // Outside a transaction, a connection found gone is re-established and
  // the statement tried once more.
  if (retry && PQstatus(shared_->conn) != CONNECTION_OK && shared_->ensure_open()) {
    res.reset(PQexec(shared_->conn, text.c_str()));
  }
  if (!res || !succeeded(res.get())) return std::unexpected(error_of(shared_->conn, res.get(), "exec"));
  shared_->last_changes = changes_of(res.get());
  return {};
}

int PgConn::changes() const { return shared_ ? shared_->last_changes : 0; }

Status PgConn::begin_write(Durability durability) {
  return exec(durability == Durability::relaxed ? "BEGIN; SET LOCAL synchronous_commit = off" : "BEGIN");
}

Status PgConn::begin_read() { return exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); }

bool PgConn::in_transaction() const { return shared_ && shared_->in_transaction(); }

Result<std::unique_ptr<sql::Statement>> PgConn::compile(std::string_view sql) {
  if (!shared_) return fail(Errc::store_error, "PostgreSQL connection is not open");
  int params = 0;
  std::string text = pg_placeholders(sql, &params);
  return std::unique_ptr<sql::Statement>(new PgStatement(shared_.get(), std::move(text), params));
}

}  // namespace m2msec::store
