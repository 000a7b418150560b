#include "m2msec/service/log_limit.h"

#include <spdlog/pattern_formatter.h>

namespace m2msec::service {

std::string log_kind_of(std::string_view payload) {
  std::size_t end = 0;
  int words = 0;
  while (end < payload.size() && end < 40) {
    if (payload[end] == ' ' && ++words == 3) break;
    ++end;
  }
  return std::string(payload.substr(0, end));
}

RateLimitedSink::RateLimitedSink(std::shared_ptr<spdlog::sinks::sink> inner, LogLimits limits)
    : inner_(std::move(inner)), limits_(limits) {}

std::uint64_t RateLimitedSink::dropped() const { return total_dropped_.load(); }

void RateLimitedSink::sink_it_(const spdlog::details::log_msg& msg) {
  const std::string_view payload(msg.payload.data(), msg.payload.size());
  std::string kind = std::to_string(static_cast<int>(msg.level)) + "|" + log_kind_of(payload);
  if (buckets_.size() >= limits_.max_kinds && !buckets_.contains(kind)) kind = "*";
  const auto now = std::chrono::steady_clock::now();
  auto [it, fresh] = buckets_.try_emplace(kind);
  Bucket& b = it->second;
  if (fresh) {
    b.tokens = limits_.burst;
    b.last = now;
    b.level = msg.level;
  }
  const double elapsed = std::chrono::duration<double>(now - b.last).count();
  b.last = now;
  b.tokens = std::min(limits_.burst, b.tokens + elapsed * limits_.per_second);
  if (b.tokens < 1) {
    ++b.dropped;
    ++total_dropped_;
    return;
  }
  b.tokens -= 1;
  inner_->log(msg);
}

void RateLimitedSink::flush_() {
  for (auto& [kind, b] : buckets_) {
    if (b.dropped == 0) continue;
    const std::string like = kind == "*" ? "of other kinds" : "like '" + kind.substr(kind.find('|') + 1) + "'";
    const std::string text = "log: dropped " + std::to_string(b.dropped) + " lines " + like + " (rate limit)";
    spdlog::details::log_msg report(spdlog::string_view_t("m2msec"), spdlog::level::warn,
                                    spdlog::string_view_t(text));
    inner_->log(report);
    b.dropped = 0;
  }
  // Forget idle kinds so the map stays small.
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(buckets_, [&](const auto& kv) { return now - kv.second.last > std::chrono::minutes(5); });
  inner_->flush();
}

void RateLimitedSink::set_pattern_(const std::string& pattern) { inner_->set_pattern(pattern); }

void RateLimitedSink::set_formatter_(std::unique_ptr<spdlog::formatter> formatter) {
  inner_->set_formatter(std::move(formatter));
}

}  // namespace m2msec::service
