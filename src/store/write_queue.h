// write_queue.h (private): the group-commit writer of the SQL backends.
//
// One thread owns the write connection. Callers submit a WriteOp (a
// function that runs SQL on that connection) and receive a future that
// becomes ready only after the transaction containing the op has
// COMMITted (durably, for Durability::full). The
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
#include "m2msec/store/write_options.h"
#include "sql.h"

namespace m2msec::store {

// WriteOp runs inside a transaction on the writer thread. It must not
// BEGIN/COMMIT itself, must not block on other ops, and must not throw
// (an escaping exception is caught and reported as Errc::store_error).
using WriteOp = std::function<Status(sql::Connection&)>;

// WriteDone receives an op's result once its transaction has committed
// (or failed). It runs on the writer thread, so it must be quick and must
// not block, wait on the queue or throw (a throw is caught and dropped):
// answering a request through proto::Reply is the intended use.
using WriteDone = std::function<void(Status)>;

// A batch holding any Durability::full op commits as full.

class WriteQueue {
 public:
  // start takes ownership of |conn| and starts the writer thread. Fails
  // with Errc::store_error if the thread cannot be created.
  static Result<std::unique_ptr<WriteQueue>> start(std::unique_ptr<sql::Connection> conn,
                                                  WriteQueueOptions options = {});

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

  // lingering is true while the writer holds a batch open for more ops
  // (WriteQueueOptions::max_wait): for tests and diagnostics.
  bool lingering() const;

 private:
  struct Item {
    WriteOp op;
    WriteDone done;
    Durability durability = Durability::full;
  };

  WriteQueue(std::unique_ptr<sql::Connection> conn, WriteQueueOptions options);
  void loop();
  void linger(std::unique_lock<std::mutex>& lock);
  void run_batch(std::deque<Item>& batch);
  static void complete(WriteDone& done, Status st) noexcept;

  std::unique_ptr<sql::Connection> conn_;
  const WriteQueueOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  bool lingering_ = false;  // in linger(): submit does not wake the writer
  WriteStats stats_;
  std::thread thread_;
};

}  // namespace m2msec::store
