// cpu_time.h: the process's CPU time, for the benches' CPU-per-operation
// figures.
#pragma once

#include <sys/resource.h>
#include <time.h>

namespace m2msec::bench {

// cpu_seconds is the process's CPU time so far (user + system, every
// thread). A bench's clients and servers share its process, so the delta
// over a loop divided by the loop's operations is what one operation
// costs, both sides together: steadier than a rate on a shared machine.
inline double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

// thread_cpu_seconds is the calling thread's CPU time so far.
inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace m2msec::bench
