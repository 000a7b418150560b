#include <algorithm>
#include <charconv>

#include "m2msec/core/ids.h"

namespace m2msec {
namespace {

bool is_value_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == '@';
}

bool is_unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == '~';
}

}  // namespace

// TS-0003 clause 10.4: "The Credential-ID is formed by concatenating the
// type part, the character '-' and the value part."
Result<CredentialId> CredentialId::parse(std::string_view text) {
  if (text.size() > 255) return fail(Errc::invalid_identifier, "Credential-ID longer than 255 characters");
  const std::size_t dash = text.find('-');
  if (dash == std::string_view::npos) return fail(Errc::invalid_identifier, "Credential-ID has no '-'");
  const std::string_view type = text.substr(0, dash);
  const std::string_view value = text.substr(dash + 1);
  if (type.empty() || type.front() == '0' || !std::all_of(type.begin(), type.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return fail(Errc::invalid_identifier, "Credential-ID type part is not a positive integer");
  }
  std::uint32_t type_id = 0;
  const auto [ptr, ec] = std::from_chars(type.data(), type.data() + type.size(), type_id);
  if (ec != std::errc{} || ptr != type.data() + type.size()) {
    return fail(Errc::invalid_identifier, "Credential-ID type part out of range");
  }
  if (value.empty()) return fail(Errc::invalid_identifier, "Credential-ID value part is empty");
  if (!std::all_of(value.begin(), value.end(), is_value_char)) {
    return fail(Errc::invalid_identifier, "Credential-ID value has a character outside [A-Za-z0-9._@-]");
  }
  return CredentialId(std::string(text), dash, type_id);
}

// TS-0001 clause 7.2 identifier forms. The checks are syntactic: segments
// of RFC 3986 unreserved characters separated by '/'.
Result<EntityId> EntityId::parse(std::string_view text) {
  if (text.empty()) return fail(Errc::invalid_identifier, "empty CSE-ID/AE-ID");
  if (text.size() > 255) return fail(Errc::invalid_identifier, "CSE-ID/AE-ID longer than 255 characters");
  std::string_view rest = text;
  bool absolute = false;
  if (rest.starts_with("//")) {
    absolute = true;
    rest.remove_prefix(2);
  } else if (rest.starts_with("/")) {
    rest.remove_prefix(1);
  } else {
    // CSE-relative AE-ID: "C..." or "S...", one segment.
    if (!(rest.front() == 'C' || rest.front() == 'S') || rest.find('/') != std::string_view::npos ||
        !std::all_of(rest.begin(), rest.end(), is_unreserved)) {
      return fail(Errc::invalid_identifier, "CSE-relative AE-ID must be one segment starting with C or S");
    }
    return EntityId(std::string(text), EntityKind::ae);
  }
  std::size_t segments = 0;
  while (true) {
    const std::size_t slash = rest.find('/');
    const std::string_view seg = rest.substr(0, slash);
    if (seg.empty()) return fail(Errc::invalid_identifier, "empty path segment in CSE-ID/AE-ID");
    if (!std::all_of(seg.begin(), seg.end(), is_unreserved)) {
      return fail(Errc::invalid_identifier, "character outside RFC 3986 unreserved in CSE-ID/AE-ID");
    }
    ++segments;
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  // Absolute IDs carry the SP-ID as their first segment.
  const std::size_t local = absolute ? segments - 1 : segments;
  if (local == 1) return EntityId(std::string(text), EntityKind::cse);
  if (local == 2) return EntityId(std::string(text), EntityKind::ae);
  return fail(Errc::invalid_identifier, "CSE-ID/AE-ID must have one (CSE) or two (AE) segments");
}

}  // namespace m2msec
