// m2msec/core/endpoint.h: what both sides of m2msec share about addresses,
// time and the DNS form of a CSE-ID. In core so that the device library
// (client) needs nothing of the server side.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "m2msec/core/error.h"

namespace m2msec {

// now_unix returns the current time in unix seconds.
std::int64_t now_unix();

// utc_to_unix returns the unix seconds of a UTC calendar time, year 1970 or
// later; Errc::invalid_argument if a field is out of range (month 1-12,
// day 1-31, hour 0-23, minute 0-59, second 0-60).
Result<std::int64_t> utc_to_unix(int year, int month, int day, int hour, int minute, int second);

// format_utc formats unix seconds as UTC with a strftime |format|; the
// decimal seconds if the time cannot be represented.
inline constexpr const char* kRfc3339 = "%Y-%m-%dT%H:%M:%SZ";
std::string format_utc(std::int64_t unix_seconds, const char* format = kRfc3339);

// Endpoint is a parsed "host:port" ("[v6]:port" for IPv6).
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
};

// parse_endpoint reads "host:port"; port 0 is allowed (pick a free port).
// Fails with Errc::invalid_argument.
Result<Endpoint> parse_endpoint(std::string_view text);

// cse_public_domain_name implements the "public domain name representation
// of a CSE-ID" that a CSE-ID certificate carries (TS-0003 8.1.2.1): for the
// SP-relative CSE-ID "/in-cse" in SP domain "sp.example.com" it is
// "in-cse.sp.example.com". Fails with Errc::invalid_identifier unless
// |cse_id| is an SP-relative CSE-ID whose name is a valid DNS label.
Result<std::string> cse_public_domain_name(std::string_view cse_id, std::string_view sp_domain);

}  // namespace m2msec
