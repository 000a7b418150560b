// m2msec/service/purge.h: deleting expired rows on a schedule.
//
// Expired enrolments (MEF), Km registrations and Kc keys (MAF) stop
// resolving the moment they expire; the rows themselves are deleted by an
// ExpiryPurger every purge_interval_s, so no operator has to.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "m2msec/core/error.h"

namespace m2msec::service {

// PurgeFn deletes the rows that expired at or before |now| (Unix seconds)
// and returns how many it deleted; store::MefRepository::purge_expired and
// store::MafRepository::purge_expired have this shape.
using PurgeFn = std::function<Result<std::size_t>(std::int64_t now)>;

// ExpiryPurger calls |purge| with the current time every |interval|, the
// first time one interval after construction, on its own thread, and logs
// each outcome: "<role>: purged N expired rows" (info; debug when N is 0),
// or a warning when the purge failed (tried again at the next interval). An
// |interval| of zero disables it: no thread is started. The destructor
// wakes and joins the thread; a purge in progress finishes first.
class ExpiryPurger {
 public:
  ExpiryPurger(std::string role, std::chrono::seconds interval, PurgeFn purge);
  ~ExpiryPurger();
  ExpiryPurger(const ExpiryPurger&) = delete;
  ExpiryPurger& operator=(const ExpiryPurger&) = delete;

  // active is true if purges are scheduled (interval > 0).
  bool active() const { return thread_.joinable(); }

 private:
  void run();

  std::string role_;
  std::chrono::seconds interval_;
  PurgeFn purge_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace m2msec::service
