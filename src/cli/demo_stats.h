// demo_stats.h: per-phase figures for "m2msec demo".
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace m2msec::cli {

// PhaseStats collects latencies (ms) and failures of one phase; thread-safe.
class PhaseStats {
 public:
  explicit PhaseStats(std::string name) : name_(std::move(name)) {}

  void ok(double ms) {
    std::lock_guard lock(mu_);
    ms_.push_back(ms);
  }
  void failed(const std::string& why) {
    std::lock_guard lock(mu_);
    ++failed_;
    if (errors_.size() < 5) errors_.push_back(why);
  }
  void set_wall(double seconds) { wall_s_ = seconds; }
  void set_server_cpu(double seconds) { server_cpu_s_ = seconds; }
  // set_server_cpu_by_role splits the server CPU by the role whose
  // threads spent it ("mef", "maf", "cse", "other"), in seconds.
  void set_server_cpu_by_role(std::map<std::string, double> seconds) { server_cpu_by_role_s_ = std::move(seconds); }

  std::size_t count() const { return ms_.size() + failed_; }
  std::size_t failures() const { return failed_; }
  const std::string& name() const { return name_; }

  // percentile returns the p-th percentile (0..100) of successful latencies.
  double percentile(double p) const {
    if (ms_.empty()) return 0;
    std::vector<double> v = ms_;
    std::sort(v.begin(), v.end());
    const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size())));
    return v[i];
  }
  // max returns the slowest successful latency: one retransmission timer
  // in a thousand devices shows here, not in p99.
  double max() const { return ms_.empty() ? 0 : *std::max_element(ms_.begin(), ms_.end()); }
  double rate() const { return wall_s_ > 0 ? static_cast<double>(ms_.size()) / wall_s_ : 0; }
  double wall_s() const { return wall_s_; }
  // server_cpu_ms_per_op is the server CPU per successful operation, if
  // the phase measured it.
  std::optional<double> server_cpu_ms_per_op() const {
    if (server_cpu_s_ < 0) return std::nullopt;
    return ms_.empty() ? 0 : server_cpu_s_ * 1000 / static_cast<double>(ms_.size());
  }
  // server_cpu_ms_per_op_by_role is server_cpu_ms_per_op split by role.
  std::map<std::string, double> server_cpu_ms_per_op_by_role() const {
    std::map<std::string, double> out;
    for (const auto& [role, s] : server_cpu_by_role_s_) {
      out[role] = ms_.empty() ? 0 : s * 1000 / static_cast<double>(ms_.size());
    }
    return out;
  }
  // errors holds the first few failure reasons.
  std::vector<std::string> errors() const {
    std::lock_guard lock(mu_);
    return errors_;
  }

  nlohmann::json to_json() const {
    nlohmann::json j = {{"count", count()}, {"failed", failed_}, {"rate_per_s", rate()}, {"p50_ms", percentile(50)},
                        {"p99_ms", percentile(99)}, {"max_ms", max()}, {"wall_s", wall_s_}};
    if (auto per_op = server_cpu_ms_per_op()) {
      j["server_cpu_s"] = server_cpu_s_;
      j["server_cpu_ms_per_op"] = *per_op;
      if (!server_cpu_by_role_s_.empty()) j["server_cpu_ms_per_op_by_role"] = server_cpu_ms_per_op_by_role();
    }
    if (!errors_.empty()) j["errors"] = errors_;
    return j;
  }

 private:
  std::string name_;
  mutable std::mutex mu_;
  std::vector<double> ms_;
  std::size_t failed_ = 0;
  std::vector<std::string> errors_;
  double wall_s_ = 0;
  double server_cpu_s_ = -1;
  std::map<std::string, double> server_cpu_by_role_s_;
};

}  // namespace m2msec::cli
