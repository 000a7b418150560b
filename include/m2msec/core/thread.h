// m2msec/core/thread.h: naming threads, and reading their run time by
// name (the servers name theirs after their role, docs/operations.md
// "Threads"; the demo and the benches split CPU by those names).
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace m2msec {

// set_thread_name names the calling thread, for top -H, perf and
// /proc/<pid>/task/*/comm. Linux keeps the first 15 characters.
void set_thread_name(std::string_view name);

// thread_run_seconds sums the run time of the live threads of process
// |pid| (0: this one) by thread name, from each thread's schedstat (exact,
// where stat's utime and stime are tick samples). Threads that have ended
// are not counted, so take it while the threads to compare are alive.
std::map<std::string, double> thread_run_seconds(int pid = 0);

}  // namespace m2msec
