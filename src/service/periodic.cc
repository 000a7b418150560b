#include "m2msec/service/periodic.h"

#include <spdlog/spdlog.h>

#include "m2msec/core/printable.h"
#include "m2msec/core/thread.h"

namespace m2msec::service {

Periodic::Periodic(std::string thread_name, std::chrono::milliseconds interval, std::function<void()> job)
    : name_(std::move(thread_name)), interval_(interval), job_(std::move(job)) {
  thread_ = std::thread([this] { run(); });
}

Periodic::~Periodic() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Periodic::run() {
  set_thread_name(name_);
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    // The thread's exception barrier.
    try {
      job_();
    } catch (const std::exception& e) {
      spdlog::error("{}: {}", name_, printable(e.what()));
    } catch (...) {
      spdlog::error("{}: a non-standard exception", name_);
    }
    lock.lock();
    cv_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

}  // namespace m2msec::service
