// cpu_time.h: the process's CPU time, for the benches' CPU-per-operation
// figures.
#pragma once

#include <sys/resource.h>

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

}  // namespace m2msec::bench
