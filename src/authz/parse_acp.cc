// parse_acp: the TS-0004 JSON serialisation of <accessControlPolicy>
// (TS-0001 clause 9.6.2) into AccessControlPolicy.
//
// Short names, as the open-source CSEs serialise them (ACME
// init/complexTypePolicies.ap, attributePolicies.ap):
//   m2m:acp { ri, rn, pv: m2m:setOfAcrs, pvs: m2m:setOfAcrs }
//   m2m:setOfAcrs { acr: [m2m:accessControlRule] }
//   m2m:accessControlRule { acor: [ID], acop: accessControlOperations,
//                           acco: [accessControlContexts], acaf: boolean,
//                           acod: [m2m:accessControlObjectDetails] }
//   accessControlContexts { actw: [scheduleEntry], acip: { ipv4: [..], ipv6: [..] },
//                           aclr: m2m:locationRegion }
//   m2m:accessControlObjectDetails { ty, spty, chty: [resourceType] }
//
// Every member is type-checked with is_*() before it is read: nlohmann's
// get<>() throws on a wrong type, and a stored policy is untrusted input.
#include <nlohmann/json.hpp>

#include <limits>

#include "m2msec/authz/authz.h"

namespace m2msec::authz {
namespace {

using nlohmann::json;

// string_list reads an array of non-empty strings.
Result<std::vector<std::string>> string_list(const json& v, const char* name) {
  if (!v.is_array()) return fail(Errc::malformed_message, std::string(name) + " is not an array");
  std::vector<std::string> out;
  out.reserve(v.size());
  for (const json& e : v) {
    if (!e.is_string()) return fail(Errc::malformed_message, std::string(name) + " has a non-string element");
    const auto& s = e.get_ref<const std::string&>();
    if (s.empty()) return fail(Errc::invalid_argument, std::string(name) + " has an empty element");
    out.push_back(s);
  }
  return out;
}

// small_int reads a JSON integer in [lo, hi] (booleans and floats refused).
Result<int> small_int(const json& v, const char* name, int lo, int hi) {
  if (!v.is_number_integer()) return fail(Errc::malformed_message, std::string(name) + " is not an integer");
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(hi) || static_cast<std::int64_t>(u) < lo) {
      return fail(Errc::invalid_argument, std::string(name) + " is out of range");
    }
    return static_cast<int>(u);
  }
  const auto i = v.get<std::int64_t>();
  if (i < lo || i > hi) return fail(Errc::invalid_argument, std::string(name) + " is out of range");
  return static_cast<int>(i);
}

Result<Context> parse_context(const json& v) {
  if (!v.is_object()) return fail(Errc::malformed_message, "acco element is not an object");
  Context ctx;
  for (const auto& [key, value] : v.items()) {
    if (key == "actw") {
      auto windows = string_list(value, "actw");
      if (!windows) return std::unexpected(windows.error());
      // An empty window list could mean "never" or be a serialiser's
      // artefact; refuse rather than guess.
      if (windows->empty()) return fail(Errc::invalid_argument, "actw is empty");
      ctx.windows = std::move(*windows);
    } else if (key == "acip") {
      if (!value.is_object()) return fail(Errc::malformed_message, "acip is not an object");
      for (const auto& [ikey, ivalue] : value.items()) {
        if (ikey == "ipv4" || ikey == "ipv6") {
          auto list = string_list(ivalue, ikey == "ipv4" ? "acip/ipv4" : "acip/ipv6");
          if (!list) return std::unexpected(list.error());
          (ikey == "ipv4" ? ctx.ipv4 : ctx.ipv6) = std::move(*list);
        } else {
          ctx.unsupported.push_back("acip/" + ikey);
        }
      }
      if (ctx.ipv4.empty() && ctx.ipv6.empty()) return fail(Errc::invalid_argument, "acip has no address");
    } else if (key == "aclr") {
      // m2m:locationRegion (a circle or country codes; TS-0003 annex F).
      // Its content is never evaluated here (no rq_loc), only its shape.
      if (!value.is_object() && !value.is_array()) {
        return fail(Errc::malformed_message, "aclr is not an object");
      }
      ctx.has_location = true;
    } else {
      ctx.unsupported.push_back(key);
    }
  }
  return ctx;
}

Result<ObjectDetail> parse_object_detail(const json& v) {
  if (!v.is_object()) return fail(Errc::malformed_message, "acod element is not an object");
  ObjectDetail od;
  bool have_chty = false;
  for (const auto& [key, value] : v.items()) {
    if (key == "ty") {
      auto ty = small_int(value, "acod/ty", 0, std::numeric_limits<int>::max());
      if (!ty) return std::unexpected(ty.error());
      od.resource_type = *ty;
    } else if (key == "spty") {
      // TS-0003 table 7.1.3-4: "mgmtDefinition or containerDefinition
      // represented as a string"; a numeric mgmtDefinition is kept as its
      // decimal text.
      if (value.is_string() && !value.get_ref<const std::string&>().empty()) {
        od.specialization = value.get<std::string>();
      } else if (value.is_number_integer()) {
        auto n = small_int(value, "acod/spty", 0, std::numeric_limits<int>::max());
        if (!n) return std::unexpected(n.error());
        od.specialization = std::to_string(*n);
      } else {
        return fail(Errc::malformed_message, "acod/spty is not a string");
      }
    } else if (key == "chty") {
      if (!value.is_array()) return fail(Errc::malformed_message, "acod/chty is not an array");
      if (value.empty()) return fail(Errc::invalid_argument, "acod/chty is empty");
      for (const json& e : value) {
        auto ty = small_int(e, "acod/chty", 0, std::numeric_limits<int>::max());
        if (!ty) return std::unexpected(ty.error());
        od.child_types.push_back(*ty);
      }
      have_chty = true;
    } else {
      return fail(Errc::malformed_message, "acod has an unknown member");
    }
  }
  // TS-0003 clause 7.1.5: "The childResourceType element is mandatory in
  // any given accessControlObjectDetails element of an access control rule."
  if (!have_chty) return fail(Errc::malformed_message, "acod without chty");
  return od;
}

Result<AccessControlRule> parse_rule(const json& v) {
  if (!v.is_object()) return fail(Errc::malformed_message, "acr element is not an object");
  AccessControlRule rule;
  bool have_acor = false, have_acop = false;
  for (const auto& [key, value] : v.items()) {
    if (key == "acor") {
      auto list = string_list(value, "acor");
      if (!list) return std::unexpected(list.error());
      rule.originators = std::move(*list);
      have_acor = true;
    } else if (key == "acop") {
      auto ops = small_int(value, "acop", 1, static_cast<int>(kAllOperations));
      if (!ops) return std::unexpected(ops.error());
      rule.operations = static_cast<unsigned>(*ops);
      have_acop = true;
    } else if (key == "acco") {
      if (!value.is_array()) return fail(Errc::malformed_message, "acco is not an array");
      // A rule without contexts is unrestricted ("For pairs, any context
      // parameters ... are admissible"); an empty list is ambiguous.
      if (value.empty()) return fail(Errc::invalid_argument, "acco is empty");
      for (const json& e : value) {
        auto ctx = parse_context(e);
        if (!ctx) return std::unexpected(ctx.error());
        rule.contexts.push_back(std::move(*ctx));
      }
    } else if (key == "acaf") {
      if (!value.is_boolean()) return fail(Errc::malformed_message, "acaf is not a boolean");
      rule.authentication = value.get<bool>();
    } else if (key == "acod") {
      if (!value.is_array()) return fail(Errc::malformed_message, "acod is not an array");
      if (value.empty()) return fail(Errc::invalid_argument, "acod is empty");
      for (const json& e : value) {
        auto od = parse_object_detail(e);
        if (!od) return std::unexpected(od.error());
        rule.object_details.push_back(std::move(*od));
      }
    } else {
      rule.unsupported.push_back(key);
    }
  }
  // TS-0003 table 7.1.3-1: accessControlOriginators and
  // accessControlOperations are Mandatory.
  if (!have_acor) return fail(Errc::malformed_message, "acr without acor");
  if (!have_acop) return fail(Errc::malformed_message, "acr without acop");
  return rule;
}

Result<std::vector<AccessControlRule>> parse_set_of_acrs(const json& v, const char* name) {
  if (!v.is_object()) return fail(Errc::malformed_message, std::string(name) + " is not an object");
  std::vector<AccessControlRule> rules;
  const auto it = v.find("acr");
  if (it == v.end()) return rules;
  if (!it->is_array()) return fail(Errc::malformed_message, std::string(name) + "/acr is not an array");
  for (const json& e : *it) {
    auto rule = parse_rule(e);
    if (!rule) return std::unexpected(rule.error());
    rules.push_back(std::move(*rule));
  }
  return rules;
}

}  // namespace

Result<AccessControlPolicy> parse_acp(const nlohmann::json& m2m_acp) {
  try {
    if (!m2m_acp.is_object()) return fail(Errc::malformed_message, "ACP is not an object");
    const auto root = m2m_acp.find("m2m:acp");
    if (root == m2m_acp.end()) return fail(Errc::malformed_message, "no m2m:acp member");
    if (!root->is_object()) return fail(Errc::malformed_message, "m2m:acp is not an object");
    AccessControlPolicy acp;
    // accessControlPolicyIDs lists resource IDs, so prefer "ri".
    for (const char* key : {"rn", "ri"}) {
      const auto it = root->find(key);
      if (it == root->end()) continue;
      if (!it->is_string()) return fail(Errc::malformed_message, std::string(key) + " is not a string");
      acp.id = it->get<std::string>();
    }
    const auto pv = root->find("pv");
    const auto pvs = root->find("pvs");
    // TS-0001 clause 9.6.2: privileges and selfPrivileges are mandatory.
    if (pv == root->end()) return fail(Errc::malformed_message, "m2m:acp without pv");
    if (pvs == root->end()) return fail(Errc::malformed_message, "m2m:acp without pvs");
    auto privileges = parse_set_of_acrs(*pv, "pv");
    if (!privileges) return std::unexpected(privileges.error());
    auto self_privileges = parse_set_of_acrs(*pvs, "pvs");
    if (!self_privileges) return std::unexpected(self_privileges.error());
    acp.privileges = std::move(*privileges);
    acp.self_privileges = std::move(*self_privileges);
    return acp;
  } catch (const std::exception&) {
    // Not reached: every access above is type-checked first.
    return fail(Errc::malformed_message, "ACP could not be read");
  }
}

}  // namespace m2msec::authz
