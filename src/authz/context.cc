// The context parts of an access control rule: accessControlWindow and
// accessControlIpAddresses (TS-0003 table 7.1.3-3).
#include <arpa/inet.h>

#include <array>
#include <chrono>
#include <cstring>

#include "internal.h"

namespace m2msec::authz::internal {
namespace {

// ---------------------------------------------------------------------------
// accessControlWindow
//
// TS-0003 clause 7.1.3: "The accessControlWindow parameter represents a list
// of elements that comply with the extended crontab syntax as defined in
// clause 7.3.8 of oneM2M TS-0004 [4]. It allows definition of periodically
// recurring time intervals at which access can be granted, when the rq_time
// parameter associated with the access request message falls into such
// interval."
//
// The extended crontab entry has seven whitespace-separated fields:
//   second minute hour day-of-month month day-of-week year
// Each field is a comma-separated list of items: "*", "*/n", "a", "a-b",
// "a-b/n". A step counts from the start of its range, as in crontab(5)
// ("*/2" in day-of-month is 1,3,5,...). Day-of-week 0 and 7 are Sunday.
// Every field must match (no crontab(5) day-of-month OR day-of-week rule).
// Anything else (names, "?", "L", a value out of range, a range a > b, a
// step of 0) makes the entry malformed: indeterminate, never a guess.

struct FieldSpec {
  int lo;
  int hi;
};
constexpr std::array<FieldSpec, 7> kFields = {{
    {0, 59},     // second
    {0, 59},     // minute
    {0, 23},     // hour
    {1, 31},     // day of month
    {1, 12},     // month
    {0, 7},      // day of week, 0 and 7 = Sunday
    {1970, 9999} // year
}};

// Item is one list item: lo..hi stepping by step.
struct Item {
  int lo;
  int hi;
  int step;
};

// parse_number reads 1..4 decimal digits.
std::optional<int> parse_number(std::string_view s) {
  if (s.empty() || s.size() > 4) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::optional<Item> parse_item(std::string_view s, FieldSpec spec) {
  int step = 1;
  if (const auto slash = s.find('/'); slash != std::string_view::npos) {
    const auto n = parse_number(s.substr(slash + 1));
    if (!n || *n == 0) return std::nullopt;
    step = *n;
    s = s.substr(0, slash);
    // "a/n" is not crontab(5) syntax; a step needs "*" or a range.
    if (s != "*" && s.find('-') == std::string_view::npos) return std::nullopt;
  }
  if (s == "*") return Item{spec.lo, spec.hi, step};
  int lo = 0, hi = 0;
  if (const auto dash = s.find('-'); dash != std::string_view::npos) {
    const auto a = parse_number(s.substr(0, dash));
    const auto b = parse_number(s.substr(dash + 1));
    if (!a || !b) return std::nullopt;
    lo = *a;
    hi = *b;
  } else {
    const auto a = parse_number(s);
    if (!a) return std::nullopt;
    lo = hi = *a;
  }
  if (lo < spec.lo || hi > spec.hi || lo > hi) return std::nullopt;
  return Item{lo, hi, step};
}

// field_matches: std::nullopt if |field| is malformed.
std::optional<bool> field_matches(std::string_view field, FieldSpec spec, int value, bool day_of_week) {
  bool hit = false;
  std::size_t pos = 0;
  while (true) {
    const auto comma = field.find(',', pos);
    const auto part = field.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    const auto item = parse_item(part, spec);
    if (!item) return std::nullopt;
    auto in = [&](int v) { return v >= item->lo && v <= item->hi && (v - item->lo) % item->step == 0; };
    // Sunday is 0 and 7; "*" covers 0..7 so it is counted once.
    if (in(value) || (day_of_week && value == 0 && in(7))) hit = true;
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return hit;
}

// split_fields splits on spaces and tabs; std::nullopt unless exactly 7.
std::optional<std::array<std::string_view, 7>> split_fields(std::string_view s) {
  std::array<std::string_view, 7> out;
  std::size_t n = 0, i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (i == s.size()) break;
    const std::size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (n == out.size()) return std::nullopt;
    out[n++] = s.substr(start, i - start);
  }
  if (n != out.size()) return std::nullopt;
  return out;
}

// ---------------------------------------------------------------------------
// accessControlIpAddresses
//
// TS-0003 clause 7.1.3: "The accessControlIpAddresses parameter represents a
// list of IPv4 and IPv6 addresses in dotted-decimal notation with CIDR suffix
// or colon separated groups of hexadecimal digits with CIDR suffix,
// respectively."
//
// An entry without a suffix is one host (/32, /128). An IPv4 entry only
// matches an IPv4 source and an IPv6 entry only an IPv6 source: the spec
// keeps the two lists apart and says nothing of IPv4-mapped IPv6 addresses,
// so ::ffff:10.0.0.1 matches "::ffff:0:0/96" but not "10.0.0.0/8".

struct Address {
  std::array<unsigned char, 16> bytes{};
  bool v6 = false;
};

std::optional<Address> parse_address(std::string_view s) {
  // inet_pton needs a NUL-terminated string; 45 bytes hold any IPv6 text.
  if (s.empty() || s.size() > 45) return std::nullopt;
  char buf[46];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  Address a;
  if (inet_pton(AF_INET, buf, a.bytes.data()) == 1) return a;
  if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) {
    a.v6 = true;
    return a;
  }
  return std::nullopt;
}

bool prefix_equal(const Address& a, const Address& b, int bits) {
  const int whole = bits / 8;
  if (std::memcmp(a.bytes.data(), b.bytes.data(), static_cast<std::size_t>(whole)) != 0) return false;
  const int rest = bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (a.bytes[static_cast<std::size_t>(whole)] & mask) == (b.bytes[static_cast<std::size_t>(whole)] & mask);
}

}  // namespace

Tri window_matches(std::string_view entry, std::int64_t time) {
  const auto fields = split_fields(entry);
  if (!fields) return Tri::unknown;
  // 1970-01-01T00:00:00Z .. 9999-12-31T23:59:59Z, the range of the year field.
  if (time < 0 || time > 253402300799) return Tri::unknown;
  using namespace std::chrono;
  const sys_seconds tp{seconds{time}};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss hms{tp - day};
  const int values[7] = {
      static_cast<int>(hms.seconds().count()), static_cast<int>(hms.minutes().count()),
      static_cast<int>(hms.hours().count()),   static_cast<int>(static_cast<unsigned>(ymd.day())),
      static_cast<int>(static_cast<unsigned>(ymd.month())),
      static_cast<int>(weekday{day}.c_encoding()),  // 0 = Sunday
      static_cast<int>(ymd.year())};
  // Parse every field before answering, so a malformed field is reported
  // even when an earlier field already fails to match.
  bool all = true;
  for (std::size_t i = 0; i < fields->size(); ++i) {
    const auto m = field_matches((*fields)[i], kFields[i], values[i], i == 5);
    if (!m) return Tri::unknown;
    all = all && *m;
  }
  return all ? Tri::yes : Tri::no;
}

Tri address_matches(std::string_view entry, bool v6, std::string_view ip) {
  const int max_bits = v6 ? 128 : 32;
  int bits = max_bits;
  std::string_view addr = entry;
  if (const auto slash = entry.find('/'); slash != std::string_view::npos) {
    const auto suffix = entry.substr(slash + 1);
    // 1..3 digits, no sign, no leading zero.
    if (suffix.empty() || suffix.size() > 3 || (suffix.size() > 1 && suffix[0] == '0')) return Tri::unknown;
    bits = 0;
    for (char c : suffix) {
      if (c < '0' || c > '9') return Tri::unknown;
      bits = bits * 10 + (c - '0');
    }
    if (bits > max_bits) return Tri::unknown;
    addr = entry.substr(0, slash);
  }
  const auto rule = parse_address(addr);
  if (!rule || rule->v6 != v6) return Tri::unknown;
  const auto source = parse_address(ip);
  if (!source) return Tri::unknown;
  if (source->v6 != v6) return Tri::no;
  return prefix_equal(*rule, *source, bits) ? Tri::yes : Tri::no;
}

}  // namespace m2msec::authz::internal
