// res_origs(k) = ismember(Originator, acr(k)_accessControlOriginators)
// (TS-0003 clause 7.1.5), with the ID forms of TS-0003 table 7.1.3-2.
#include <algorithm>
#include <exception>

#include "internal.h"

namespace m2msec::authz {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
  return out;
}

// strip_sp returns the SP-ID without a leading "//", lower-cased (an SP-ID
// is a domain name; DNS compares case-insensitively).
std::string sp_name(std::string_view sp_id) {
  if (sp_id.starts_with("//")) sp_id.remove_prefix(2);
  return lower(sp_id);
}

// cse_path returns the SP-relative CSE-ID "/cse" from "/cse", "cse" or the
// absolute "//sp/cse"; empty if there is none.
std::string cse_path(std::string_view cse_id) {
  if (cse_id.starts_with("//")) {
    const auto slash = cse_id.find('/', 2);
    if (slash == std::string_view::npos) return {};
    cse_id.remove_prefix(slash);
  }
  if (cse_id.empty() || cse_id == "/") return {};
  return cse_id.starts_with('/') ? std::string(cse_id) : "/" + std::string(cse_id);
}

// segments splits "//a/b/c" into {a, b, c}.
std::vector<std::string_view> segments(std::string_view abs) {
  std::vector<std::string_view> out;
  abs.remove_prefix(2);
  std::size_t pos = 0;
  while (true) {
    const auto slash = abs.find('/', pos);
    out.push_back(abs.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos));
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  return out;
}

// glob matches |text| against |pattern| where '*' stands for any run of
// characters, possibly empty. Callers pass one path segment, so a '*' never
// crosses a '/': TS-0003 clause 7.1.3, "The scope of a "*" is terminated by
// a following "/" character." Linear-time two-pointer match.
bool glob(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// pattern_matches compares two absolute IDs segment by segment; '*' in
// |pattern| is a wildcard within its segment.
bool pattern_matches(const std::string& pattern, const std::string& origin) {
  const auto ps = segments(pattern);
  const auto os = segments(origin);
  if (ps.size() != os.size()) return false;
  for (std::size_t i = 0; i < ps.size(); ++i) {
    if (!glob(ps[i], os[i])) return false;
  }
  return true;
}

// sp_domain returns the domain of an entry that is an SP domain name,
// written as the SP-ID "//sp.example.com" (nothing after the domain).
std::optional<std::string_view> sp_domain(std::string_view entry) {
  if (!entry.starts_with("//") || entry.size() == 2) return std::nullopt;
  if (entry.find('/', 2) != std::string_view::npos) return std::nullopt;
  return entry.substr(2);
}

}  // namespace

std::optional<std::string> absolute_id(std::string_view id, std::string_view cse_id, std::string_view sp_id) {
  if (id.empty()) return std::nullopt;
  const std::string sp = sp_name(sp_id);
  std::string abs;
  if (id.starts_with("//")) {
    abs = std::string(id);
  } else if (id.starts_with('/')) {
    if (sp.empty()) return std::nullopt;  // SP-relative: "/cse/C1", "/Sx"
    abs = "//" + sp + std::string(id);
  } else if (id.starts_with('S')) {
    if (sp.empty()) return std::nullopt;  // an S-AE-ID stem is unique in the SP
    abs = "//" + sp + "/" + std::string(id);
  } else {
    const std::string cse = cse_path(cse_id);
    if (sp.empty() || cse.empty()) return std::nullopt;  // CSE-relative: "C1"
    abs = "//" + sp + cse + "/" + std::string(id);
  }
  // "//sp/x..." with at least one segment after the SP and none empty.
  const auto segs = segments(abs);
  if (segs.size() < 2) return std::nullopt;
  for (auto s : segs) {
    if (s.empty()) return std::nullopt;
  }
  const std::size_t sp_end = abs.find('/', 2);
  return lower(std::string_view(abs).substr(0, sp_end)) + abs.substr(sp_end);
}

namespace internal {

// TS-0003 clause 7.1.3: "The accessControlOriginators parameter comprises a
// list of SP domain names, CSE-IDs, AE-IDs, resource-IDs of <group>
// resources and/or Role IDs ... If access for all originators is to be
// allowed, the reserved keyword "all" may be included". "Using a SP domain
// name in accessControlOriginators means all AE-IDs and CSE-IDs matching the
// given domain name can be authorized." "Wildcard characters are not
// applicable to SP domain names, resource-IDs of <group> resources and Role
// IDs."
//
// An entry that names a <group> is matched against its members only, never
// as an ID, so an originator cannot gain a group's privileges by taking the
// group's resource ID as its own. Role IDs are not supported (the request
// carries none): such an entry matches nothing.
Tri originators_match(const std::vector<std::string>& acor, const std::string& origin, const Request& request,
                      const GroupResolver& groups) {
  Tri result = Tri::no;
  for (const std::string& entry : acor) {
    if (entry == "all") return Tri::yes;
    if (groups) {
      std::optional<std::vector<std::string>> members;
      try {
        members = groups(entry);
      } catch (const std::exception&) {
        result = Tri::unknown;  // the group could not be resolved
        continue;
      }
      if (members) {
        for (const std::string& m : *members) {
          const auto abs = absolute_id(m, request.cse_id, request.sp_id);
          if (abs && *abs == origin) return Tri::yes;
        }
        continue;
      }
    }
    // Compared literally: "//*" names no SP, as no originator holds a '*'.
    if (const auto domain = sp_domain(entry)) {
      const std::string want = "//" + lower(*domain) + "/";
      if (origin.starts_with(want)) return Tri::yes;
      continue;
    }
    const auto pattern = absolute_id(entry, request.cse_id, request.sp_id);
    if (pattern && pattern_matches(*pattern, origin)) return Tri::yes;
  }
  return result;
}

}  // namespace internal
}  // namespace m2msec::authz
