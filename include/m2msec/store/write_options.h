// m2msec/store/write_options.h: how a store groups its writes into commits
// (the same for every backend).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace m2msec::store {

struct WriteQueueOptions {
  // max_batch bounds the number of ops in one transaction.
  std::size_t max_batch = 256;
  // max_wait is the longest the writer lingers, collecting more ops,
  // before it commits a batch. It lingers only when the previous batch held
  // more than one op (so a lone writer adds no latency), and stops early
  // once max_batch ops are queued or no op has come for linger_gap. Zero
  // never lingers (batches then form only from ops that queue up during a
  // commit).
  std::chrono::microseconds max_wait{2000};
  // linger_gap ends the linger early: the writer looks at the queue once
  // per gap (ops that join the batch do not wake it, the op that fills
  // max_batch does) and commits after a whole gap in which no new op was
  // queued, so between one and two gaps after the last one. Zero lingers
  // the whole max_wait.
  std::chrono::microseconds linger_gap{200};
  // thread_name names the writer thread (at most 15 characters are kept),
  // for top -H, perf and per-role CPU figures.
  std::string thread_name = "m2m-writer";
};

}  // namespace m2msec::store
