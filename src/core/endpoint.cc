#include "m2msec/core/endpoint.h"

#include <ctime>

#include <chrono>
#include <charconv>

#include "m2msec/core/ids.h"

namespace m2msec {

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::int64_t> utc_to_unix(int year, int month, int day, int hour, int minute, int second) {
  if (year < 1970 || year > 9999 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
      minute < 0 || minute > 59 || second < 0 || second > 60) {
    return fail(Errc::invalid_argument, "not a valid UTC date and time");
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<std::int64_t>(timegm(&tm));
}

std::string format_utc(std::int64_t unix_seconds, const char* format) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  char buf[64];
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(unix_seconds);
  const std::size_t n = std::strftime(buf, sizeof buf, format, &tm);
  if (n == 0) return std::to_string(unix_seconds);
  return std::string(buf, n);
}

Result<Endpoint> parse_endpoint(std::string_view text) {
  std::string_view host, port;
  if (text.starts_with("[")) {
    const std::size_t close = text.find("]:");
    if (close == std::string_view::npos) return fail(Errc::invalid_argument, "want [v6addr]:port");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail(Errc::invalid_argument, "want host:port, got '" + std::string(text) + "'");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (host.empty() || port.empty() || ec != std::errc{} || p != port.data() + port.size() || value > 65535) {
    return fail(Errc::invalid_argument, "want host:port with port 0..65535, got '" + std::string(text) + "'");
  }
  return Endpoint{std::string(host), static_cast<std::uint16_t>(value)};
}

Result<std::string> cse_public_domain_name(std::string_view cse_id, std::string_view sp_domain) {
  auto id = EntityId::parse(cse_id);
  if (!id || id->kind() != EntityKind::cse || !cse_id.starts_with("/") || cse_id.starts_with("//")) {
    return fail(Errc::invalid_identifier, "not an SP-relative CSE-ID: " + std::string(cse_id));
  }
  std::string fqdn = std::string(cse_id.substr(1)) + "." + std::string(sp_domain);
  if (!Fqdn::parse(fqdn)) return fail(Errc::invalid_identifier, "CSE-ID has no DNS form: " + std::string(cse_id));
  return fqdn;
}

}  // namespace m2msec
