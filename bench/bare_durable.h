// bare_durable.h: the least a stored key can cost on this stack.
// BareDurableLog is a SQLite table (WAL) that a bare server thread writes
// one row to between reading the request and writing the answer:
//   durable (enrolments, Km): synchronous=FULL, group-committed by one
//     writer thread, so every commit ends in fdatasync; commit() returns
//     when the transaction holding its row has committed;
//   relaxed (Kc): synchronous=NORMAL, each row its own transaction,
//     written by the calling thread.
// No sealing, no HTTP, no JSON, no statement but the one INSERT: the bare
// loop with it measures the ceiling any implementation with that write
// reaches beside the bare handshake (docs/performance.md).
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace m2msec::bench {

class BareDurableLog {
 public:
  // |relaxed|: no fdatasync per commit (the WAL is synced at
  // checkpoints), so nothing gains from grouping.
  explicit BareDurableLog(const std::string& path, bool relaxed = false) : relaxed_(relaxed) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) die("open");
    exec("PRAGMA journal_mode=WAL");
    exec(relaxed ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL");
    exec("CREATE TABLE IF NOT EXISTS rows (id TEXT PRIMARY KEY, owner TEXT NOT NULL, key BLOB NOT NULL, "
         "created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL)");
    if (sqlite3_prepare_v2(db_, "INSERT INTO rows VALUES (?1, ?2, ?3, ?4, ?5)", -1, &insert_, nullptr) != SQLITE_OK) {
      die("prepare");
    }
    if (!relaxed_) writer_ = std::thread([this] { run(); });
  }
  BareDurableLog(const BareDurableLog&) = delete;
  BareDurableLog& operator=(const BareDurableLog&) = delete;
  ~BareDurableLog() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (writer_.joinable()) writer_.join();
    sqlite3_finalize(insert_);
    sqlite3_close(db_);
  }

  // commit writes one row (an identifier, an owner, a 60-byte blob: the
  // size of a sealed 32-byte key) and returns once it is committed.
  bool commit() {
    if (relaxed_) {
      // No fsync to share: each row is its own transaction, written by the
      // server thread itself (no hand-off), one writer at a time.
      std::lock_guard lock(mu_);
      exec("BEGIN");
      insert(next_id_++);
      exec("COMMIT");
      ++committed_;
      return true;
    }
    std::unique_lock lock(mu_);
    queue_.push_back(next_id_++);
    const std::uint64_t batch = next_batch_;
    cv_.notify_all();
    done_cv_.wait(lock, [&] { return committed_ > batch || stop_; });
    return committed_ > batch;
  }

  std::uint64_t transactions() {
    std::lock_guard lock(mu_);
    return committed_;
  }

 private:
  void run() {
    std::vector<std::uint64_t> batch;
    while (true) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        batch.swap(queue_);
        ++next_batch_;  // later arrivals wait for the next transaction
      }
      exec("BEGIN");
      for (const std::uint64_t id : batch) insert(id);
      exec("COMMIT");
      batch.clear();
      {
        std::lock_guard lock(mu_);
        ++committed_;
      }
      done_cv_.notify_all();
    }
  }

  void insert(std::uint64_t id) {
    static const std::vector<std::uint8_t> blob(60, 0x5a);
    const std::string key = "row-" + std::to_string(id);
    sqlite3_bind_text(insert_, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(insert_, 2, "enrolee", -1, SQLITE_STATIC);
    sqlite3_bind_blob(insert_, 3, blob.data(), static_cast<int>(blob.size()), SQLITE_STATIC);
    sqlite3_bind_int64(insert_, 4, 1);
    sqlite3_bind_int64(insert_, 5, 2);
    if (sqlite3_step(insert_) != SQLITE_DONE) die("insert");
    sqlite3_reset(insert_);
  }

  void exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) die(sql);
  }
  [[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "bare durable log: %s: %s\n", what, db_ ? sqlite3_errmsg(db_) : "no database");
    std::exit(1);
  }

  const bool relaxed_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::vector<std::uint64_t> queue_;
  std::uint64_t next_id_ = 0;
  std::uint64_t next_batch_ = 0;  // the transaction rows queued now will be in
  std::uint64_t committed_ = 0;   // transactions committed
  bool stop_ = false;
  std::thread writer_;
};

}  // namespace m2msec::bench
