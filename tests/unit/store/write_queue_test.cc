#include "write_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <pthread.h>
#include <string>
#include <utility>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "test_util.h"

namespace m2msec::store {
namespace {

using testing::TempDir;

std::unique_ptr<WriteQueue> start_queue(const std::string& path, WriteQueueOptions opts = {}) {
  Result<SqliteConn> conn = SqliteConn::open(path, SqliteMode::writer, 5000);
  EXPECT_TRUE(conn);
  EXPECT_TRUE(conn->exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"));
  Result<std::unique_ptr<WriteQueue>> q = WriteQueue::start(std::make_unique<SqliteConn>(std::move(*conn)), opts);
  EXPECT_TRUE(q);
  return std::move(*q);
}

WriteOp insert_op(std::int64_t id) {
  return [id](sql::Connection& c) -> Status {
    Result<sql::Stmt> s = c.prepare("INSERT INTO t (id, v) VALUES (?1, 'x')");
    if (!s) return std::unexpected(s.error());
    Status st = s->bind_int64(1, id);
    if (st) st = s->run();
    return st;
  };
}

std::int64_t count_rows(const std::string& path) {
  Result<SqliteConn> c = SqliteConn::open(path, SqliteMode::reader, 5000);
  EXPECT_TRUE(c);
  Result<sql::Stmt> s = c->prepare("SELECT count(*) FROM t");
  EXPECT_TRUE(s);
  EXPECT_TRUE(s->step().value_or(false));
  return s->column_int64(0);
}

// synchronous_op records the connection's PRAGMA synchronous (1 NORMAL,
// 2 FULL) as seen inside the transaction that commits the op.
WriteOp synchronous_op(std::atomic<int>& out) {
  return [&out](sql::Connection& c) -> Status {
    Result<sql::Stmt> s = c.prepare("PRAGMA synchronous");
    if (!s) return std::unexpected(s.error());
    Result<bool> row = s->step();
    if (!row || !*row) return fail(Errc::store_error, "no pragma row");
    out = static_cast<int>(s->column_int64(0));
    return {};
  };
}

// Kc registrations commit without fsync (Durability::relaxed); everything
// else, and any batch holding a full op, commits with synchronous=FULL.
TEST(WriteQueue, RelaxedOpsCommitWithoutFsyncAndFullOnesWithIt) {
  TempDir dir;
  std::unique_ptr<WriteQueue> q = start_queue(dir.file("q.db"));
  std::atomic<int> seen{0};
  ASSERT_TRUE(q->run(synchronous_op(seen), Durability::relaxed));
  EXPECT_EQ(seen.load(), 1);
  ASSERT_TRUE(q->run(synchronous_op(seen)));
  EXPECT_EQ(seen.load(), 2);
  ASSERT_TRUE(q->run(synchronous_op(seen), Durability::relaxed));
  EXPECT_EQ(seen.load(), 1);

  // A batch with one full op among relaxed ones is full: hold the writer
  // in a first op while the batch queues up.
  std::atomic<bool> release{false};
  auto blocker = q->submit([&](sql::Connection&) -> Status {
    while (!release.load()) std::this_thread::yield();
    return {};
  });
  std::atomic<int> a{0}, b{0};
  auto f1 = q->submit(synchronous_op(a), Durability::relaxed);
  auto f2 = q->submit(synchronous_op(b), Durability::full);
  release = true;
  ASSERT_TRUE(blocker.get());
  ASSERT_TRUE(f1.get());
  ASSERT_TRUE(f2.get());
  EXPECT_EQ(a.load(), 2);
  EXPECT_EQ(b.load(), 2);
  const WriteStats st = q->stats();
  EXPECT_EQ(st.relaxed_transactions, 2u);
  EXPECT_GE(st.transactions, 4u);
}

TEST(WriteQueue, ConcurrentWritersShareCommits) {
  TempDir dir;
  const std::string path = dir.file("q.db");
  constexpr int kThreads = 8, kPerThread = 150;
  WriteStats stats;
  {
    std::unique_ptr<WriteQueue> q = start_queue(path);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          if (!q->run(insert_op(t * kPerThread + i))) ++failures;
        }
      });
    }
    for (std::thread& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    stats = q->stats();
  }
  constexpr int kWrites = kThreads * kPerThread;
  EXPECT_EQ(stats.ops, static_cast<std::uint64_t>(kWrites));
  EXPECT_LT(stats.transactions, static_cast<std::uint64_t>(kWrites));
  EXPECT_GT(stats.largest_batch, 1u);
  EXPECT_EQ(count_rows(path), kWrites);  // after reopen
}

// HeldWriter occupies the writer thread with an op that waits until
// let_go(), so that the ops submitted meanwhile queue into one batch. If
// a test ends first, the broken promise lets the writer go.
class HeldWriter {
 public:
  explicit HeldWriter(WriteQueue& q) {
    auto started = std::make_shared<std::promise<void>>();
    std::future<void> running = started->get_future();
    std::shared_future<void> gate = release_.get_future().share();
    blocker_ = q.submit([gate, started](sql::Connection&) -> Status {
      started->set_value();
      gate.wait();
      return {};
    });
    running.wait();
  }
  // let_go releases the writer and returns the holding op's result.
  Status let_go() {
    release_.set_value();
    return blocker_.get();
  }

 private:
  std::promise<void> release_;
  std::future<Status> blocker_;
};

// commit_a_batch_of_three holds the writer while three ops queue, so that
// they commit as one batch: after a batch of several the writer lingers
// before its next commit.
void commit_a_batch_of_three(WriteQueue& q) {
  HeldWriter held(q);
  std::vector<std::future<Status>> first;
  for (int i = 0; i < 3; ++i) first.push_back(q.submit(insert_op(i)));
  ASSERT_TRUE(held.let_go());
  for (auto& f : first) ASSERT_TRUE(f.get());
}

// wait_until_lingering waits (a minute at most) until the writer holds its
// batch open for more ops.
void wait_until_lingering(const WriteQueue& q) {
  for (int spins = 0; !q.lingering(); ++spins) {
    ASSERT_LT(spins, 60000) << "the writer did not linger";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

TEST(WriteQueue, FailingOpDoesNotPoisonItsBatch) {
  TempDir dir;
  const std::string path = dir.file("q.db");
  std::unique_ptr<WriteQueue> q = start_queue(path);
  // Hold the writer so that everything below queues into one batch.
  HeldWriter held(*q);
  std::vector<std::future<Status>> futs;
  for (int i = 0; i < 5; ++i) futs.push_back(q->submit(insert_op(i)));
  futs.push_back(q->submit(insert_op(2)));  // duplicate key: fails
  futs.push_back(q->submit([](sql::Connection& c) -> Status {
    // Writes, then fails: its own row must be rolled back.
    Status st = c.exec("INSERT INTO t (id, v) VALUES (100, 'partial')");
    if (!st) return st;
    return fail(Errc::invalid_argument, "op refuses");
  }));
  futs.push_back(q->submit([](sql::Connection&) -> Status { throw std::runtime_error("boom"); }));
  for (int i = 5; i < 10; ++i) futs.push_back(q->submit(insert_op(i)));
  ASSERT_TRUE(held.let_go());

  std::vector<Status> results;
  for (auto& f : futs) results.push_back(f.get());
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(results[static_cast<std::size_t>(i)]) << i;
  ASSERT_FALSE(results[5]);
  EXPECT_EQ(results[5].error().code(), Errc::already_exists);
  ASSERT_FALSE(results[6]);
  EXPECT_EQ(results[6].error().code(), Errc::invalid_argument);
  ASSERT_FALSE(results[7]);
  EXPECT_EQ(results[7].error().code(), Errc::store_error);
  for (std::size_t i = 8; i < results.size(); ++i) EXPECT_TRUE(results[i]) << i;

  const WriteStats stats = q->stats();
  EXPECT_GE(stats.largest_batch, futs.size());
  EXPECT_EQ(stats.ops_failed, 3u);
  q->stop();
  EXPECT_EQ(count_rows(path), 10);
}

// After a batch of several ops the writer lingers for more, but only while
// they keep coming: a write that arrives alone commits once linger_gap has
// passed with nothing new, not after max_wait (an hour here, so the old
// behaviour, lingering the whole max_wait, fails the wait below).
TEST(WriteQueue, LingerEndsWhenNoNewOpArrives) {
  TempDir dir;
  WriteQueueOptions opts;
  opts.max_wait = std::chrono::hours(1);
  opts.linger_gap = std::chrono::milliseconds(1);
  std::unique_ptr<WriteQueue> q = start_queue(dir.file("q.db"), opts);
  // Hold the writer so that the next ops form one batch of several.
  HeldWriter held(*q);
  std::vector<std::future<Status>> batch;
  for (int i = 0; i < 4; ++i) batch.push_back(q->submit(insert_op(i)));
  ASSERT_TRUE(held.let_go());
  for (auto& f : batch) ASSERT_TRUE(f.get());
  ASSERT_GE(q->stats().largest_batch, 4u);  // so the writer lingers before the next commit

  std::future<Status> alone = q->submit(insert_op(100));
  ASSERT_EQ(alone.wait_for(std::chrono::seconds(60)), std::future_status::ready)
      << "a lone write waited for max_wait";
  EXPECT_TRUE(alone.get());
  q->stop();
}

// While the writer lingers, ops that join its batch do not wake it (it
// looks once per linger_gap), but the op that fills max_batch does: with a
// gap and a max_wait of an hour, the four ops below commit as one batch as
// soon as the fourth is queued (without that wake-up they would wait the
// hour, and the wait below fails). The first op is queued alone and the
// others once the writer lingers for more.
TEST(WriteQueue, AFullBatchEndsTheLingerAtOnce) {
  TempDir dir;
  WriteQueueOptions opts;
  opts.max_batch = 4;
  opts.max_wait = std::chrono::hours(1);
  opts.linger_gap = std::chrono::hours(1);
  std::unique_ptr<WriteQueue> q = start_queue(dir.file("q.db"), opts);
  ASSERT_NO_FATAL_FAILURE(commit_a_batch_of_three(*q));  // so that the writer lingers before the next
  const WriteStats before = q->stats();
  ASSERT_GE(before.largest_batch, 3u);
  std::vector<std::future<Status>> next;
  next.push_back(q->submit(insert_op(10)));
  // The first op starts the linger; the next three join it.
  ASSERT_NO_FATAL_FAILURE(wait_until_lingering(*q));
  for (int i = 11; i < 14; ++i) next.push_back(q->submit(insert_op(i)));
  for (auto& f : next) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(60)), std::future_status::ready) << "a full batch kept lingering";
    EXPECT_TRUE(f.get());
  }
  const WriteStats after = q->stats();
  EXPECT_EQ(after.batches, before.batches + 1);  // the four went together
  EXPECT_EQ(after.ops, before.ops + 4);
  q->stop();
}

// stop() ends a linger at once: with a gap and a max_wait of an hour, the
// op the writer is lingering over still commits, and stop returns, without
// waiting the hour (the waits below would fail).
TEST(WriteQueue, StopEndsALingerAndCommitsWhatItHeld) {
  TempDir dir;
  const std::string path = dir.file("q.db");
  WriteQueueOptions opts;
  opts.max_wait = std::chrono::hours(1);
  opts.linger_gap = std::chrono::hours(1);
  std::unique_ptr<WriteQueue> q = start_queue(path, opts);
  ASSERT_NO_FATAL_FAILURE(commit_a_batch_of_three(*q));  // so that the writer lingers before the next
  std::future<Status> held_op = q->submit(insert_op(10));
  ASSERT_NO_FATAL_FAILURE(wait_until_lingering(*q));
  std::future<void> stopped = std::async(std::launch::async, [&q] { q->stop(); });
  ASSERT_EQ(stopped.wait_for(std::chrono::seconds(60)), std::future_status::ready) << "stop waited for the linger";
  ASSERT_EQ(held_op.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_TRUE(held_op.get());
  EXPECT_EQ(count_rows(path), 4);
}

TEST(WriteQueue, SubmitAfterStopFails) {
  TempDir dir;
  std::unique_ptr<WriteQueue> q = start_queue(dir.file("q.db"));
  q->stop();
  Status st = q->run(insert_op(1));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::store_error);
}

// The writer thread carries the name the options give it (for top -H, perf
// and the demo's CPU by role), cut to the 15 characters Linux keeps.
TEST(WriteQueue, TheWriterThreadIsNamedAfterItsOptions) {
  TempDir dir;
  for (const auto& [name, expected] : {std::pair<std::string, std::string>{"", "m2m-writer"},
                                       {"maf-writer", "maf-writer"},
                                       {"a-very-long-writer-name", "a-very-long-wri"}}) {
    WriteQueueOptions o;
    if (!name.empty()) o.thread_name = name;
    std::unique_ptr<WriteQueue> q = start_queue(dir.file(expected + ".db"), o);
    std::string seen;
    Status st = q->run([&seen](sql::Connection&) -> Status {
      char buf[16] = {};
      pthread_getname_np(pthread_self(), buf, sizeof buf);
      seen = buf;
      return {};
    });
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_EQ(seen, expected);
  }
}

// A completion runs on the writer thread once the op's transaction has
// committed: by then the row is visible to a fresh reader. The submitting
// thread does not wait, so one thread can keep many writes in flight and
// they share commits.
TEST(WriteQueue, CompletionRunsAfterCommitWithoutAWaitingThread) {
  TempDir dir;
  const std::string path = dir.file("q.db");
  std::unique_ptr<WriteQueue> q = start_queue(path);
  constexpr int kWrites = 200;
  std::mutex mu;
  std::condition_variable cv;
  int done = 0, failed = 0, missing_at_completion = 0;
  std::set<std::thread::id> completion_threads;
  for (int i = 0; i < kWrites; ++i) {
    q->submit(insert_op(i), Durability::full, [&, i](Status st) {
      // Committed: a separate connection sees the row.
      Result<SqliteConn> c = SqliteConn::open(path, SqliteMode::reader, 5000);
      Result<sql::Stmt> s = c ? c->prepare("SELECT 1 FROM t WHERE id = ?1") : fail(Errc::store_error);
      bool seen = s && s->bind_int64(1, i) && s->step().value_or(false);
      std::lock_guard lock(mu);
      if (!st) ++failed;
      if (!seen) ++missing_at_completion;
      completion_threads.insert(std::this_thread::get_id());
      ++done;
      cv.notify_all();
    });
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done == kWrites; });
  }
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(missing_at_completion, 0);
  ASSERT_EQ(completion_threads.size(), 1u);
  EXPECT_NE(*completion_threads.begin(), std::this_thread::get_id());
  const WriteStats stats = q->stats();
  EXPECT_EQ(stats.ops, static_cast<std::uint64_t>(kWrites));
  // One submitting thread, yet batches formed: they are not capped by the
  // number of waiting threads.
  EXPECT_GT(stats.largest_batch, 1u);
}

TEST(WriteQueue, CompletionGetsTheOpsOwnError) {
  TempDir dir;
  std::unique_ptr<WriteQueue> q = start_queue(dir.file("q.db"));
  ASSERT_TRUE(q->run(insert_op(7)));
  std::promise<Status> got;
  q->submit(insert_op(7), Durability::full, [&got](Status st) { got.set_value(std::move(st)); });
  Status st = got.get_future().get();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::already_exists);
}

TEST(WriteQueue, CompletionAfterStopRunsAtOnceWithAnError) {
  TempDir dir;
  std::unique_ptr<WriteQueue> q = start_queue(dir.file("q.db"));
  q->stop();
  std::optional<Status> got;
  q->submit(insert_op(1), Durability::relaxed, [&got](Status st) { got = std::move(st); });
  ASSERT_TRUE(got.has_value());  // called before submit returned
  ASSERT_FALSE(*got);
  EXPECT_EQ(got->error().code(), Errc::store_error);
}

// A completion that throws is dropped; the writer keeps serving.
TEST(WriteQueue, ThrowingCompletionLeavesTheWriterRunning) {
  TempDir dir;
  const std::string path = dir.file("q.db");
  std::unique_ptr<WriteQueue> q = start_queue(path);
  q->submit(insert_op(1), Durability::full, [](Status) { throw std::runtime_error("completion fails"); });
  EXPECT_TRUE(q->run(insert_op(2)));
  q->stop();
  EXPECT_EQ(count_rows(path), 2);
}

TEST(WriteQueue, StartNeedsConnection) {
  Result<std::unique_ptr<WriteQueue>> q = WriteQueue::start(nullptr);
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code(), Errc::invalid_argument);
}

TEST(SqliteConn, OpenMissingReaderFails) {
  TempDir dir;
  Result<SqliteConn> c = SqliteConn::open(dir.file("absent.db"), SqliteMode::reader, 100);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), Errc::store_error);
}

// prepare hands out the statement compiled for the same text before,
// reset and with its bindings cleared.
TEST(SqliteConn, ReusesPreparedStatementsWithClearedBindings) {
  TempDir dir;
  Result<SqliteConn> c = SqliteConn::open(dir.file("s.db"), SqliteMode::writer, 100);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"));
  const std::string sql = "SELECT ?1 IS NULL, ?1";
  const std::size_t base = c->cached_statements();  // open() ran PRAGMAs
  {
    Result<sql::Stmt> s = c->prepare(sql);
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->bind_text(1, "secret-looking"));
    ASSERT_TRUE(s->step().value_or(false));
    EXPECT_EQ(s->column_int64(0), 0);
    // Same text while the first is in use: a second, separate statement.
    Result<sql::Stmt> t = c->prepare(sql);
    ASSERT_TRUE(t);
    ASSERT_TRUE(t->step().value_or(false));
    EXPECT_EQ(t->column_int64(0), 1);
  }
  EXPECT_EQ(c->cached_statements(), base + 1);  // the second copy was finalized
  Result<sql::Stmt> again = c->prepare(sql);
  ASSERT_TRUE(again);
  EXPECT_EQ(c->cached_statements(), base);  // taken from the cache
  ASSERT_TRUE(again->step().value_or(false));
  EXPECT_EQ(again->column_int64(0), 1);  // the earlier binding is gone
  // A statement that does not compile is refused and not cached.
  Result<sql::Stmt> bad = c->prepare("SELEKT 1");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::store_error);
}

// The transaction-control statements every write runs (the durability
// switch, BEGIN IMMEDIATE, SAVEPOINT, RELEASE, COMMIT) stay compiled in the
// statement cache; one the engine refuses, or that does not compile, fails
// as sqlite3_exec would and leaves the cache as it was; and exec still runs
// text of several statements as a whole, without caching it.
TEST(SqliteConn, KeepsTheTransactionControlStatementsCompiled) {
  TempDir dir;
  Result<SqliteConn> c = SqliteConn::open(dir.file("w.db"), SqliteMode::writer, 100);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->exec("CREATE TABLE t (id INTEGER PRIMARY KEY); CREATE TABLE u (id INTEGER PRIMARY KEY)"));
  const std::size_t base = c->cached_statements();
  auto write_once = [&](int id) {
    ASSERT_TRUE(c->begin_write(Durability::relaxed));
    Status st = sql::with_savepoint(*c, "m2msec_op", [&] {
      return c->exec("INSERT INTO t (id) VALUES (" + std::to_string(id) + ")");
    });
    ASSERT_TRUE(st);
    ASSERT_TRUE(c->commit());
  };
  write_once(1);
  // PRAGMA synchronous=NORMAL, BEGIN IMMEDIATE, SAVEPOINT, RELEASE, COMMIT.
  EXPECT_EQ(c->cached_statements(), base + 5);
  write_once(2);
  EXPECT_EQ(c->cached_statements(), base + 5);  // the same five, reused
  EXPECT_EQ(c->pragma_text("synchronous").value_or(""), "1");  // NORMAL, as begin_write asked
  const std::size_t cached = c->cached_statements();
  Status no_txn = c->commit();
  ASSERT_FALSE(no_txn);
  EXPECT_EQ(no_txn.error().code(), Errc::store_error);
  ASSERT_TRUE(c->begin_write(Durability::relaxed));
  Status unknown = c->exec_control("RELEASE no_such_savepoint");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), Errc::store_error);
  Status bad = c->exec_control("RELEASE 1 2");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::store_error);
  ASSERT_TRUE(c->rollback());
  // RELEASE no_such_savepoint and ROLLBACK compiled; "RELEASE 1 2" did not.
  EXPECT_EQ(c->cached_statements(), cached + 2);
  ASSERT_TRUE(c->exec("BEGIN; INSERT INTO u (id) VALUES (7); COMMIT"));
  EXPECT_EQ(c->cached_statements(), cached + 2);
  Result<sql::Stmt> rows = c->prepare("SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM u)");
  ASSERT_TRUE(rows);
  ASSERT_TRUE(rows->step().value_or(false));
  EXPECT_EQ(rows->column_int64(0), 2);
  EXPECT_EQ(rows->column_int64(1), 1);
}

TEST(SqliteConn, PragmasApplied) {
  TempDir dir;
  Result<SqliteConn> c = SqliteConn::open(dir.file("p.db"), SqliteMode::writer, 100);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->pragma_text("journal_mode").value_or(""), "wal");
  EXPECT_EQ(c->pragma_text("synchronous").value_or(""), "2");  // FULL
  EXPECT_EQ(c->pragma_text("foreign_keys").value_or(""), "1");
  EXPECT_EQ(c->pragma_text("busy_timeout").value_or(""), "100");
}

}  // namespace
}  // namespace m2msec::store
