#include <algorithm>
#include <cctype>

#include "m2msec/core/ids.h"

namespace m2msec {
namespace {

bool is_label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

// RFC 1123 section 2.1 host names, restricted further by TS-0003 clause
// 10.1.1: "Wildcards shall not be used".
Result<Fqdn> Fqdn::parse(std::string_view text) {
  if (text.empty()) return fail(Errc::invalid_fqdn, "empty");
  if (text.size() > 253) return fail(Errc::invalid_fqdn, "longer than 253 characters");
  if (text.find('*') != std::string_view::npos) return fail(Errc::invalid_fqdn, "wildcards are not allowed");

  std::size_t labels = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = text.find('.', start);
    const std::string_view label = text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty()) return fail(Errc::invalid_fqdn, "empty label");
    if (label.size() > 63) return fail(Errc::invalid_fqdn, "label longer than 63 characters");
    if (label.front() == '-' || label.back() == '-') return fail(Errc::invalid_fqdn, "label starts or ends with '-'");
    if (!std::all_of(label.begin(), label.end(), is_label_char)) {
      return fail(Errc::invalid_fqdn, "character outside [A-Za-z0-9-]");
    }
    ++labels;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (labels < 2) return fail(Errc::invalid_fqdn, "needs at least two labels");
  return Fqdn(std::string(text));
}

bool Fqdn::matches(const Fqdn& other) const {
  return std::equal(text_.begin(), text_.end(), other.text_.begin(), other.text_.end(),
                    [](char a, char b) { return lower(a) == lower(b); });
}

Result<IdEncoding> parse_id_encoding(std::string_view text) {
  if (text == "base64") return IdEncoding::base64;
  if (text == "hex") return IdEncoding::hex;
  return fail(Errc::invalid_argument, "ID encoding must be base64 or hex");
}

std::string_view id_encoding_name(IdEncoding enc) {
  switch (enc) {
    case IdEncoding::base64:
      return "base64";
    case IdEncoding::hex:
      return "hex";
    default:
      return "unknown";
  }
}

}  // namespace m2msec
