#include "serve_util.h"

#include <signal.h>
#include <time.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "m2msec/service/log_limit.h"

namespace m2msec::cli {

void block_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

std::string wait_for_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  return sig == SIGINT ? "SIGINT" : "SIGTERM";
}

void drain_then_stop(const std::string& who, const std::string& signal, const std::vector<std::function<void()>>& drain,
                     std::chrono::milliseconds drain_time) {
  if (drain_time.count() <= 0) {
    spdlog::info("{}: stopping on {}", who, signal);
    return;
  }
  for (const auto& d : drain) d();
  spdlog::info("{}: {}: draining for {} ms (/readyz answers 503; a second signal stops at once)", who, signal,
               drain_time.count());
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + drain_time;
  while (true) {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) break;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    const int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig == SIGINT || sig == SIGTERM) {
      spdlog::info("{}: second signal: stopping now", who);
      return;
    }
  }
  spdlog::info("{}: drained; stopping", who);
}

bool init_logging(const std::string& level) {
  const auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") return false;
  // Every line goes through the flood limiter (service/log_limit.h);
  // info lines are flushed once a second, not one by one on the hot path.
  auto inner = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto sink = std::make_shared<service::RateLimitedSink>(std::move(inner));
  auto logger = std::make_shared<spdlog::logger>("m2msec", std::move(sink));
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(lvl);
  spdlog::flush_on(spdlog::level::warn);
  spdlog::flush_every(std::chrono::seconds(1));
  return true;
}

}  // namespace m2msec::cli
