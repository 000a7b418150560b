#include "write_queue.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <vector>

#include "m2msec/core/thread.h"

namespace m2msec::store {
namespace {

// ready_future returns a future that already holds |st|.
std::future<Status> ready_future(Status st) {
  std::promise<Status> p;
  p.set_value(std::move(st));
  return p.get_future();
}

// run_op runs one op inside SAVEPOINT so that its failure undoes only its
// own changes. Converts escaping exceptions to Errc::store_error.
Status run_op(sql::Connection& conn, const WriteOp& op) {
  Status result = sql::with_savepoint(conn, "m2msec_op", [&]() -> Status {
    try {
      return op ? op(conn) : Status(fail(Errc::invalid_argument, "empty write op"));
    } catch (const std::exception& e) {
      return fail(Errc::store_error, std::string("write op threw: ") + e.what());
    } catch (...) {
      return fail(Errc::store_error, "write op threw");
    }
  });
  // The engine rolled back the whole transaction (SQLite: I/O error, disk
  // full; PostgreSQL: the connection dropped): the savepoint is gone too.
  // The caller notices and restarts.
  if (!conn.in_transaction() && result) result = fail(Errc::store_error, "transaction aborted");
  return result;
}

}  // namespace

void WriteQueue::complete(WriteDone& done, Status st) noexcept {
  if (!done) return;
  try {
    done(std::move(st));
  } catch (...) {
    // A completion must not throw; the writer thread outlives it.
  }
}

WriteQueue::WriteQueue(std::unique_ptr<sql::Connection> conn, WriteQueueOptions options)
    : conn_(std::move(conn)), options_(options) {}

Result<std::unique_ptr<WriteQueue>> WriteQueue::start(std::unique_ptr<sql::Connection> conn,
                                                     WriteQueueOptions options) {
  if (!conn) return fail(Errc::invalid_argument, "write queue needs an open connection");
  if (options.max_batch == 0) options.max_batch = 1;
  try {
    std::unique_ptr<WriteQueue> q(new WriteQueue(std::move(conn), options));
    q->thread_ = std::thread([raw = q.get()] { raw->loop(); });
    return q;
  } catch (const std::exception& e) {
    return fail(Errc::store_error, std::string("cannot start writer thread: ") + e.what());
  }
}

WriteQueue::~WriteQueue() { stop(); }

std::future<Status> WriteQueue::submit(WriteOp op, Durability durability) {
  try {
    auto promise = std::make_shared<std::promise<Status>>();
    std::future<Status> fut = promise->get_future();
    submit(std::move(op), durability, [promise](Status st) { promise->set_value(std::move(st)); });
    return fut;
  } catch (const std::exception& e) {
    return ready_future(fail(Errc::store_error, std::string("submit: ") + e.what()));
  }
}

void WriteQueue::submit(WriteOp op, Durability durability, WriteDone done) {
  Status outcome = fail(Errc::store_error, "write queue is stopped");
  try {
    std::unique_lock lock(mu_);
    if (!stopping_) {
      // If push_back throws, |done| is still ours to call.
      queue_.push_back(Item{std::move(op), WriteDone(), durability});
      queue_.back().done = std::move(done);
      // A lingering writer looks at the queue once per linger_gap by
      // itself: waking it for every op that joins its batch would cost a
      // futex call here and a wake-up there each. A full batch ends the
      // linger at once.
      const bool wake = !lingering_ || queue_.size() >= options_.max_batch;
      lock.unlock();
      if (wake) cv_.notify_one();
      return;
    }
  } catch (const std::exception& e) {
    outcome = fail(Errc::store_error, std::string("submit: ") + e.what());
  }
  complete(done, std::move(outcome));
}

Status WriteQueue::run(WriteOp op, Durability durability) {
  std::future<Status> fut = submit(std::move(op), durability);
  try {
    return fut.get();
  } catch (const std::exception& e) {
    return fail(Errc::store_error, std::string("write result lost: ") + e.what());
  }
}

void WriteQueue::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

WriteStats WriteQueue::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool WriteQueue::lingering() const {
  std::lock_guard lock(mu_);
  return lingering_;
}

// linger holds the batch open while ops keep arriving: it commits once a
// whole linger_gap has passed with no new op, max_batch ops are queued, or
// max_wait has passed since it began. Under an open stream of requests
// batches grow up to max_wait; when every waiting writer has already queued
// its op (a fixed set of clients, each waiting for its commit) it gives up
// after one or two gaps instead of the whole max_wait. Submitters do not
// wake it meanwhile (submit), so it sleeps one gap at a time and counts
// what arrived.
void WriteQueue::linger(std::unique_lock<std::mutex>& lock) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point until = Clock::now() + options_.max_wait;
  const auto gap = options_.linger_gap.count() > 0 ? std::min(options_.linger_gap, options_.max_wait) : options_.max_wait;
  lingering_ = true;
  while (!stopping_ && queue_.size() < options_.max_batch) {
    const std::size_t seen = queue_.size();
    const Clock::time_point now = Clock::now();
    if (now >= until) break;
    cv_.wait_until(lock, std::min(until, now + gap),
                   [&] { return stopping_ || queue_.size() >= options_.max_batch; });
    if (queue_.size() == seen) break;  // nothing new within the gap
  }
  lingering_ = false;
}

void WriteQueue::loop() {
  set_thread_name(options_.thread_name);  // for top -H and perf
  std::size_t last_batch = 0;
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and drained
    // Linger only when the last batch showed concurrency; a lone writer
    // pays no added latency.
    if (last_batch > 1 && options_.max_wait.count() > 0 && !stopping_) linger(lock);
    const std::size_t n = std::min(queue_.size(), options_.max_batch);
    std::deque<Item> batch;
    for (std::size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    run_batch(batch);
    last_batch = n;
    lock.lock();
  }
}

void WriteQueue::run_batch(std::deque<Item>& batch) {
  std::vector<Status> results(batch.size());
  std::uint64_t commits = 0, failed_commits = 0;
  // One full op makes the whole batch full.
  const bool relaxed = std::all_of(batch.begin(), batch.end(),
                                   [](const Item& it) { return it.durability == Durability::relaxed; });
  const Durability want = relaxed ? Durability::relaxed : Durability::full;
  const auto started = std::chrono::steady_clock::now();
  std::size_t i = 0;
  while (i < batch.size()) {
    const std::size_t first = i;
    Status begin = conn_->begin_write(want);
    if (!begin) {
      for (; i < batch.size(); ++i) results[i] = begin;
      ++failed_commits;
      break;
    }
    bool aborted = false;
    for (; i < batch.size(); ++i) {
      results[i] = run_op(*conn_, batch[i].op);
      if (!conn_->in_transaction()) {
        // The transaction is gone: earlier ops of it are lost too. Start a
        // fresh transaction for the rest of the batch.
        for (std::size_t j = first; j < i; ++j) {
          if (results[j]) results[j] = fail(Errc::store_error, "transaction aborted by another op");
        }
        ++i;
        aborted = true;
        ++failed_commits;
        break;
      }
    }
    if (aborted) continue;
    Status commit = conn_->commit();
    if (!commit) {
      (void)conn_->rollback();
      for (std::size_t j = first; j < i; ++j) {
        results[j] = fail(Errc::store_error, "commit failed: " + commit.error().detail());
      }
      ++failed_commits;
      continue;
    }
    ++commits;
  }

  const auto took =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
  std::uint64_t failed_ops = 0;
  for (const Status& r : results) {
    if (!r) ++failed_ops;
  }
  {
    std::lock_guard lock(mu_);
    stats_.batches += 1;
    stats_.commit_us += static_cast<std::uint64_t>(took);
    stats_.transactions += commits;
    if (relaxed) stats_.relaxed_transactions += commits;
    stats_.commit_failures += failed_commits;
    stats_.ops += batch.size();
    stats_.ops_failed += failed_ops;
    stats_.largest_batch = std::max<std::uint64_t>(stats_.largest_batch, batch.size());
  }
  // Completions fire only now, after COMMIT has returned.
  for (std::size_t k = 0; k < batch.size(); ++k) complete(batch[k].done, std::move(results[k]));
}

}  // namespace m2msec::store
