// m2msec/service/log_limit.h: a log sink that survives a flood.
//
// A peer can make a server log a line per handshake it fails. Under a
// flood that is thousands of lines a second of the same kind, which costs
// CPU and buries everything else. RateLimitedSink keeps a token bucket per
// kind of line (its level and first words) and drops what exceeds it,
// counting the drops; each flush (spdlog::flush_every) reports them in one
// line per kind: "log: dropped 1234 lines like 'mef: handshake failed:'".
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace m2msec::service {

struct LogLimits {
  double burst = 100;           // lines of one kind let through at once
  double per_second = 20;       // refill rate of each kind
  std::size_t max_kinds = 1024; // distinct kinds tracked; the rest share one
};

class RateLimitedSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  RateLimitedSink(std::shared_ptr<spdlog::sinks::sink> inner, LogLimits limits = {});

  // dropped returns how many lines were dropped since start.
  std::uint64_t dropped() const;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;
  void set_pattern_(const std::string& pattern) override;
  void set_formatter_(std::unique_ptr<spdlog::formatter> formatter) override;

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point last;
    std::uint64_t dropped = 0;  // since the last report
    spdlog::level::level_enum level = spdlog::level::info;
  };
  std::shared_ptr<spdlog::sinks::sink> inner_;
  LogLimits limits_;
  std::map<std::string, Bucket> buckets_;
  std::atomic<std::uint64_t> total_dropped_{0};
};

// kind_of returns the key a line is limited by: its first three words
// (at most 40 bytes), e.g. "mef: handshake failed:".
std::string log_kind_of(std::string_view payload);

}  // namespace m2msec::service
