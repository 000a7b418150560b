// m2msec/service/periodic.h: a thread that runs one job at a fixed
// interval (the revocation feeds a holder follows).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace m2msec::service {

// Periodic runs |job| at once and then every |interval| on its own thread
// (named |thread_name|, at most 15 characters), until destroyed. A job
// that throws is logged and run again at the next interval. The destructor
// wakes and joins the thread; a job in progress finishes first.
class Periodic {
 public:
  Periodic(std::string thread_name, std::chrono::milliseconds interval, std::function<void()> job);
  ~Periodic();
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

 private:
  void run();

  std::string name_;
  std::chrono::milliseconds interval_;
  std::function<void()> job_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace m2msec::service
