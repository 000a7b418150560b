// cpu_time.h: the process's CPU time, for the benches' CPU-per-operation
// figures.
#pragma once

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

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

// cpu_by_thread_name sums the CPU time (seconds) of the process's live
// threads by name (the servers name theirs after their role: mef-tls-io,
// mef-worker, mef-writer, ...; the benches' own threads keep the
// program's name), from each thread's schedstat run time (exact, where
// stat's utime and stime are tick samples). Threads that have exited are
// not counted, so take it while the threads to compare are alive.
inline std::map<std::string, double> cpu_by_thread_name() {
  std::map<std::string, double> out;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream comm(task.path() / "comm"), sched(task.path() / "schedstat");
    std::string name;
    double ns = 0;
    if (!std::getline(comm, name) || !(sched >> ns)) continue;  // ended meanwhile
    out[name] += ns / 1e9;
  }
  return out;
}

}  // namespace m2msec::bench
