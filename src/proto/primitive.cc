#include "m2msec/proto/primitive.h"

#include "m2msec/core/endpoint.h"

#include "m2msec/core/printable.h"

#include <charconv>
#include <ctime>

namespace m2msec::proto {

std::string_view operation_name(Operation op) {
  switch (op) {
    case Operation::create:
      return "create";
    case Operation::retrieve:
      return "retrieve";
    case Operation::update:
      return "update";
    case Operation::del:
      return "delete";
    case Operation::notify:
      return "notify";
    default:
      return "unknown";
  }
}

// TS-0009 clause 6.6 (oneM2M RSC to HTTP status code mapping).
int http_status(Rsc rsc) {
  switch (rsc) {
    case Rsc::ok:
    case Rsc::deleted:
    case Rsc::updated:
      return 200;
    case Rsc::created:
      return 201;
    case Rsc::bad_request:
    case Rsc::contents_unacceptable:
      return 400;
    case Rsc::originator_has_no_privilege:
    case Rsc::security_association_required:
    case Rsc::invalid_child_resource_type:
    case Rsc::receiver_has_no_privilege:
      return 403;
    case Rsc::not_found:
    case Rsc::target_not_reachable:
      return 404;
    case Rsc::operation_not_allowed:
      return 405;
    case Rsc::request_timeout:
      return 408;
    case Rsc::conflict:
    case Rsc::already_exists:
      return 409;
    case Rsc::not_implemented:
      return 501;
    case Rsc::internal_server_error:
      return 500;
    default:
      return 500;
  }
}

Response error_response(const Request& req, Rsc rsc, std::string_view debug) {
  // The text may quote peer bytes: printable() keeps it one line of ASCII,
  // so the JSON encoder cannot throw on it and no log reader is fooled.
  return Response{rsc, req.rqi, nlohmann::json{{"m2m:dbg", printable(debug, 512)}}};
}

Response ok_response(const Request& req, Rsc rsc, nlohmann::json content) {
  return Response{rsc, req.rqi, std::move(content)};
}

std::string format_time(std::int64_t unix_seconds) { return format_utc(unix_seconds, "%Y%m%dT%H%M%S"); }

Result<std::int64_t> parse_time(std::string_view text) {
  if (text.size() != 15 || text[8] != 'T') return fail(Errc::invalid_argument, "time must be YYYYMMDDTHHMMSS");
  auto num = [&](std::size_t pos, std::size_t len, int& out) {
    const auto [p, ec] = std::from_chars(text.data() + pos, text.data() + pos + len, out);
    return ec == std::errc{} && p == text.data() + pos + len;
  };
  int year = 0, mon = 0, day = 0, hh = 0, mm = 0, ss = 0;
  if (!num(0, 4, year) || !num(4, 2, mon) || !num(6, 2, day) || !num(9, 2, hh) || !num(11, 2, mm) ||
      !num(13, 2, ss)) {
    return fail(Errc::invalid_argument, "time must be YYYYMMDDTHHMMSS");
  }
  auto t = utc_to_unix(year, mon, day, hh, mm, ss);
  if (!t) return fail(Errc::invalid_argument, "time must be YYYYMMDDTHHMMSS");
  return *t;
}

std::string percent_encode(std::string_view text, std::string_view also_safe) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '.' || c == '_' || c == '~' ||
                            also_safe.find(static_cast<char>(c)) != std::string_view::npos;
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

Result<std::string> percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    auto hexval = [](char c) {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (i + 2 >= text.size()) return fail(Errc::invalid_argument, "truncated %-escape");
    const int hi = hexval(text[i + 1]), lo = hexval(text[i + 2]);
    if (hi < 0 || lo < 0) return fail(Errc::invalid_argument, "bad %-escape");
    const int v = hi * 16 + lo;
    out.push_back(static_cast<char>(v));
    i += 2;
  }
  return out;
}

}  // namespace m2msec::proto
