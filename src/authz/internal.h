// authz/internal.h: the partial results of TS-0003 clause 7.1.5, shared by
// the files of the module. Not installed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "m2msec/authz/authz.h"

namespace m2msec::authz::internal {

// Tri is a partial result: TRUE, FALSE, or not derivable (indeterminate).
enum class Tri { no, yes, unknown };

// Kleene AND / OR: FALSE dominates AND, TRUE dominates OR.
inline Tri tri_and(Tri a, Tri b) {
  if (a == Tri::no || b == Tri::no) return Tri::no;
  if (a == Tri::unknown || b == Tri::unknown) return Tri::unknown;
  return Tri::yes;
}
inline Tri tri_or(Tri a, Tri b) {
  if (a == Tri::yes || b == Tri::yes) return Tri::yes;
  if (a == Tri::unknown || b == Tri::unknown) return Tri::unknown;
  return Tri::no;
}

// window_matches: res_time for one accessControlWindow entry at |time|
// (seconds since the epoch, UTC). unknown if the entry is malformed or the
// time is before 1970 or after 9999.
Tri window_matches(std::string_view entry, std::int64_t time);

// address_matches: one "acip" entry (|v6| selects the ipv6 list) against
// |ip|. unknown if either is malformed.
Tri address_matches(std::string_view entry, bool v6, std::string_view ip);

// originators_match: res_origs for the absolute originator |origin|.
Tri originators_match(const std::vector<std::string>& acor, const std::string& origin, const Request& request,
                      const GroupResolver& groups);

}  // namespace m2msec::authz::internal
