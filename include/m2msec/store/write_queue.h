// m2msec/store/write_queue.h: the group-commit writer of the SQLite backend.
//
// One thread owns the write connection. Callers submit a WriteOp (a
// function that runs SQL on that connection) and receive a future that
// becomes ready only after the transaction containing the op has
// COMMITted (and, with synchronous=FULL, the WAL has been fsynced). The
// thread takes every queued op, up to max_batch, into one transaction, so
// concurrent writers share one fsync. Each op runs inside its own
// SAVEPOINT: an op that fails is rolled back alone and reports its own
// error; the others in the batch still commit.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "m2msec/core/error.h"
#include "m2msec/store/records.h"
#include "m2msec/store/sqlite_conn.h"

namespace m2msec::store {

// WriteOp runs inside a transaction on the writer thread. It must not
// BEGIN/COMMIT itself, must not block on other ops, and must not throw
// (an escaping exception is caught and reported as Errc::store_error).
using WriteOp = std::function<Status(SqliteConn&)>;

// WriteDone receives an op's result once its transaction has committed
// (or failed). It runs on the writer thread, so it must be quick and must
// not block, wait on the queue or throw (a throw is caught and dropped):
// answering a request through proto::Reply is the intended use.
using WriteDone = std::function<void(Status)>;

// Durability says what an acknowledged op survives. full: power loss (the
// commit fsyncs the WAL; synchronous=FULL). relaxed: a process crash, not
// necessarily a power cut (synchronous=NORMAL in WAL mode: the commit is
// atomic and in the OS's hands; the WAL is fsynced at the next checkpoint
// or full commit). Kc registrations are relaxed: a Kc lost to a power cut
// costs a device one re-association (docs/storage.md). A batch holding any
// full op commits as full.
enum class Durability { full, relaxed };

struct WriteQueueOptions {
  // max_batch bounds the number of ops in one transaction.
  std::size_t max_batch = 256;
  // max_wait is how long the writer lingers, collecting more ops, before
  // it commits a batch. It lingers only when the previous batch held more
  // than one op (so a lone writer adds no latency) and stops early once
  // max_batch ops are queued. Zero never lingers (batches then form only
  // from ops that queue up during a commit).
  std::chrono::microseconds max_wait{2000};
};


class WriteQueue {
 public:
  // start takes ownership of |conn| and starts the writer thread. Fails
  // with Errc::store_error if the thread cannot be created.
  static Result<std::unique_ptr<WriteQueue>> start(SqliteConn conn, WriteQueueOptions options = {});

  // The destructor calls stop().
  ~WriteQueue();
  WriteQueue(const WriteQueue&) = delete;
  WriteQueue& operator=(const WriteQueue&) = delete;

  // submit queues |op|. The future yields the op's own Status once its
  // transaction has committed, or an error if the op failed, the commit
  // failed (every op of that batch then reports Errc::store_error), or the
  // queue is stopped (Errc::store_error). Never throws.
  std::future<Status> submit(WriteOp op, Durability durability = Durability::full);

  // submit with a completion: |done| gets the same Status the future would
  // hold, on the writer thread after COMMIT has returned (or at once on the
  // calling thread if the queue is stopped). The caller holds no thread
  // while the commit is pending, so a batch can hold as many ops as there
  // are requests waiting, not as many as there are workers.
  void submit(WriteOp op, Durability durability, WriteDone done);

  // run is submit followed by waiting for the result.
  Status run(WriteOp op, Durability durability = Durability::full);

  // stop drains the queue (queued ops still run and commit), then joins
  // the writer thread. Later submits fail. Idempotent.
  void stop();

  WriteStats stats() const;

 private:
  struct Item {
    WriteOp op;
    WriteDone done;
    Durability durability = Durability::full;
  };

  WriteQueue(SqliteConn conn, WriteQueueOptions options);
  void loop();
  void run_batch(std::deque<Item>& batch);
  static void complete(WriteDone& done, Status st) noexcept;

  SqliteConn conn_;
  const WriteQueueOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  Durability synchronous_ = Durability::full;  // the connection's current setting (writer thread only)
  bool stopping_ = false;
  WriteStats stats_;
  std::thread thread_;
};

}  // namespace m2msec::store
