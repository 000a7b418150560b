#include "m2msec/service/purge.h"

#include <spdlog/spdlog.h>

#include "m2msec/core/endpoint.h"
#include "m2msec/core/printable.h"
#include "m2msec/core/thread.h"

namespace m2msec::service {

ExpiryPurger::ExpiryPurger(std::string role, std::chrono::seconds interval, PurgeFn purge)
    : role_(std::move(role)), interval_(interval), purge_(std::move(purge)) {
  if (interval_.count() > 0 && purge_) thread_ = std::thread([this] { run(); });
}

ExpiryPurger::~ExpiryPurger() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ExpiryPurger::run() {
  set_thread_name(role_ + "-purge");  // "maf-purge", for top -H
  std::unique_lock lock(mu_);
  while (true) {
    if (cv_.wait_for(lock, interval_, [this] { return stopping_; })) return;
    lock.unlock();
    // The thread's exception barrier: a purge that throws is reported and
    // tried again at the next interval.
    try {
      Result<std::size_t> n = purge_(now_unix());
      if (!n) {
        spdlog::warn("{}: purge of expired rows failed: {}", role_, printable(n.error().message(), 256));
      } else if (*n > 0) {
        spdlog::info("{}: purged {} expired rows", role_, *n);
      } else {
        spdlog::debug("{}: purged 0 expired rows", role_);
      }
    } catch (const std::exception& e) {
      spdlog::error("{}: purge of expired rows failed: {}", role_, printable(e.what()));
    } catch (...) {
      spdlog::error("{}: purge of expired rows failed with a non-standard exception", role_);
    }
    lock.lock();
  }
}

}  // namespace m2msec::service
