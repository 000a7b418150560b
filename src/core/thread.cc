#include "m2msec/core/thread.h"

#include <pthread.h>

#include <filesystem>
#include <fstream>
#include <system_error>

namespace m2msec {

void set_thread_name(std::string_view name) {
  const std::string kept(name.substr(0, 15));  // the kernel's TASK_COMM_LEN, less the NUL
  pthread_setname_np(pthread_self(), kept.c_str());
}

std::map<std::string, double> thread_run_seconds(int pid) {
  std::map<std::string, double> out;
  const std::string tasks = pid == 0 ? "/proc/self/task" : "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream comm(task.path() / "comm"), sched(task.path() / "schedstat");
    std::string name;
    double ns = 0;
    if (!std::getline(comm, name) || !(sched >> ns)) continue;  // ended meanwhile
    out[name] += ns / 1e9;
  }
  return out;
}

}  // namespace m2msec
