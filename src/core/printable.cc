#include "m2msec/core/printable.h"

namespace m2msec {

std::string printable(std::string_view text, std::size_t limit) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::size_t keep = text.size() < limit ? text.size() : limit;
  std::string out;
  out.reserve(keep + 16);
  for (std::size_t i = 0; i < keep; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c <= 0x7e && c != '\\') {
      out.push_back(static_cast<char>(c));
      continue;
    }
    out += "\\x";
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0x0f]);
  }
  if (keep < text.size()) out += "...(+" + std::to_string(text.size() - keep) + " bytes)";
  return out;
}

}  // namespace m2msec
