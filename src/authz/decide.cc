// The reference access decision algorithm of TS-0003 clause 7.1.5.
#include <bit>

#include "internal.h"
#include "m2msec/core/printable.h"

namespace m2msec::authz {
namespace {

using internal::Tri;
using internal::tri_and;
using internal::tri_or;

// TS-0003 table 7.1.5-1, and clause 7.1.3: "If the
// accessControlAuthenticationFlag parameter is not present, then the value
// is assumed to be FALSE. If the accessControlAuthenticationFlag parameter
// is TRUE, then this indicates that the access control rule applies only to
// Originators considered to have been authenticated by the Hosting CSE."
Tri res_authn(const AccessControlRule& rule, const Request& request) {
  if (!rule.authentication.value_or(false)) return Tri::yes;
  return request.authenticated ? Tri::yes : Tri::no;
}

// res_ops(k) = ismember(Operation, acr(k)_accessControlOperations)
Tri res_ops(const AccessControlRule& rule, const Request& request) {
  return (rule.operations & static_cast<unsigned>(request.operation)) != 0 ? Tri::yes : Tri::no;
}

// res_ip(k, m) = ismember(rq_ip, acr(k)_accessControlIpAddresses(m))
Tri res_ip(const Context& ctx, const Request& request) {
  // rq_ip is "Obtained over the Mcn reference point"; without it the
  // membership cannot be derived.
  if (!request.ip) return Tri::unknown;
  Tri r = Tri::no;
  for (const auto& e : ctx.ipv4) r = tri_or(r, internal::address_matches(e, false, *request.ip));
  for (const auto& e : ctx.ipv6) r = tri_or(r, internal::address_matches(e, true, *request.ip));
  return r;
}

// res_context(k, m) = res_time(k, m) AND res_ip(k, m) AND res_loc(k, m);
// a part the context does not give does not restrict.
Tri res_context(const Context& ctx, const Request& request) {
  Tri r = ctx.unsupported.empty() ? Tri::yes : Tri::unknown;
  if (!ctx.windows.empty()) {
    // res_time(k, m) = ismember(rq_time, acr(k)_accessControlWindow(m))
    Tri t = Tri::no;
    for (const auto& w : ctx.windows) t = tri_or(t, internal::window_matches(w, request.time));
    r = tri_and(r, t);
  }
  if (!ctx.ipv4.empty() || !ctx.ipv6.empty()) r = tri_and(r, res_ip(ctx, request));
  // res_loc(k, m) = ismember(rq_loc, acr(k)_accessControlLocationRegion(m)):
  // m2msec obtains no rq_loc, so this part is never derivable.
  if (ctx.has_location) r = tri_and(r, Tri::unknown);
  return r;
}

// res_ctxts(k) = res_context(k, 1) ... OR res_context(k, M_k); a rule
// without contexts is a pair: "For pairs, any context parameters associated
// with a request message are admissible."
Tri res_ctxts(const AccessControlRule& rule, const Request& request) {
  if (rule.contexts.empty()) return Tri::yes;
  Tri r = Tri::no;
  for (const auto& ctx : rule.contexts) r = tri_or(r, res_context(ctx, request));
  return r;
}

// TS-0003 clause 7.1.3: "Child resource types listed in the
// childResourceType component are subject of access control for the Create
// operation only." "If either the resourceType or specializationType element
// is present in accessControlObjectDetails, the CSE matches the type of
// resource or specialization of the targeted resource with the value
// specified in the resourceType or specializationType element. Further
// checking of childResourceType is done only if the resourceType or
// specializationType match occurs." Clause 7.1.5: "res_objdetails(k, m) =
// res_resourceType(k, m) AND res_specializationType(k, m) AND
// res_childResource(k,m)" and "If specializationType is present, it shall be
// matched against the mgmtDefinition or containerDefinition attributes given
// in the Content parameter of the Create request primitive."
Tri res_objdetails(const ObjectDetail& od, const Request& request) {
  Tri r = Tri::yes;
  if (od.resource_type) {
    r = request.target_type ? (*request.target_type == *od.resource_type ? Tri::yes : Tri::no) : Tri::unknown;
  }
  if (od.specialization) {
    const bool same = request.created_specialization && *request.created_specialization == *od.specialization;
    r = tri_and(r, same ? Tri::yes : Tri::no);
  }
  // res_childResource(k, m) = ismember(Resource Type, childResourceType(k, m, j))
  bool child = false;
  for (int ty : od.child_types) child = child || ty == *request.created_type;
  return tri_and(r, child ? Tri::yes : Tri::no);
}

// res_objd(k) = res_objdetails(k, 1) ... OR res_objdetails(k, M_k);
// "applies to Create request primitives only", and "An access control rule
// which does not include any accessControlObjectDetails parameters applies
// to all child resource types of the target resource."
Tri res_objd(const AccessControlRule& rule, const Request& request) {
  if (request.operation != Operation::create || rule.object_details.empty()) return Tri::yes;
  // The Resource Type parameter "is present in Create request primitives".
  if (!request.created_type) return Tri::unknown;
  Tri r = Tri::no;
  for (const auto& od : rule.object_details) r = tri_or(r, res_objdetails(od, request));
  return r;
}

// res_acr(k) = res_authn(k) AND res_origs(k) AND res_ops(k) AND res_ctxts(k)
// AND res_objd(k). A member this code does not know makes the rule
// indeterminate: it could restrict what the rule grants (e.g. "aca").
Tri res_acr(const AccessControlRule& rule, const Request& request, const std::string& origin,
            const GroupResolver& groups) {
  Tri r = rule.unsupported.empty() ? Tri::yes : Tri::unknown;
  r = tri_and(r, res_authn(rule, request));
  r = tri_and(r, res_ops(rule, request));
  if (r == Tri::no) return r;
  r = tri_and(r, internal::originators_match(rule.originators, origin, request, groups));
  if (r == Tri::no) return r;
  r = tri_and(r, res_ctxts(rule, request));
  return tri_and(r, res_objd(rule, request));
}

}  // namespace

// TS-0003 clause 7.1.1: "Access requests to ACP's itself are evaluated
// against the selfPrivileges attribute of that ACP. Access requests to
// instances of all other resource types, are evaluated against the
// privileges attributes of the ACP set associated with the targeted
// resource."
//
// Clause 7.1.5: "The algorithm specified in this clause adopts a
// "Permit-overrides" combining algorithm with respect to access control rules
// and ACPs" ... "res_acrs = res_acr(1) OR res_acr(2) ... OR res_acr(K)" ...
// "if the access control decision for one access control rule results in
// res_acr = TRUE, the reference access decision algorithm can stop without
// evaluating any other applicable access control rules of the current ACP or
// any other ACPs in the ACP set, and the final access decision is "Permit"."
Verdict evaluate(const Request& request, const std::vector<AccessControlPolicy>& acps, Target target,
                 const GroupResolver& groups, const std::optional<std::string>& owner) {
  Verdict v;
  const auto op = static_cast<unsigned>(request.operation);
  if (op == 0 || (op & ~kAllOperations) != 0 || !std::has_single_bit(op)) {
    v.reason = Reason::bad_request;
    return v;
  }
  // "the Originator variable refers to the authenticated identity of the
  // originator of the request primitive which matches the From parameter."
  // A '*' belongs in policies only (it is no unreserved URI character an
  // AE-ID or CSE-ID may hold): an originator carrying one is refused.
  const auto origin = absolute_id(request.originator, request.cse_id, request.sp_id);
  if (!origin || origin->find('*') != std::string::npos) {
    v.reason = Reason::bad_request;
    return v;
  }

  // No ACP: the default access policy (TS-0001; oneM2M's description: "If
  // there is a custodian attribute associated with the resource then the
  // default policy shall provide unrestricted access only to the custodian
  // ... If there is no custodian attribute ... unrestricted access to the
  // creator of the resource. All other entities shall be denied access").
  if (acps.empty()) {
    const auto who = owner ? absolute_id(*owner, request.cse_id, request.sp_id) : std::nullopt;
    if (who && *who == *origin) {
      v.decision = Decision::permit;
      v.reason = Reason::default_owner;
    }
    return v;
  }

  bool indeterminate = false;
  for (const auto& acp : acps) {
    const auto& rules = target == Target::policy ? acp.self_privileges : acp.privileges;
    for (std::size_t k = 0; k < rules.size(); ++k) {
      const Tri r = res_acr(rules[k], request, *origin, groups);
      if (r == Tri::yes) {
        v.decision = Decision::permit;
        v.reason = Reason::rule;
        v.acp_id = acp.id;
        v.rule = k;
        return v;
      }
      if (r == Tri::unknown) indeterminate = true;
    }
  }
  v.reason = indeterminate ? Reason::indeterminate : Reason::no_rule;
  return v;
}

Decision decide(const Request& request, const std::vector<AccessControlPolicy>& acps, Target target,
                const GroupResolver& groups, const std::optional<std::string>& owner) {
  return evaluate(request, acps, target, groups, owner).decision;
}

std::string describe(const Verdict& verdict) {
  switch (verdict.reason) {
    case Reason::rule:
      return "permit: acp " + printable(verdict.acp_id) + " rule " + std::to_string(verdict.rule);
    case Reason::default_owner:
      return "permit: default policy, originator is the owner";
    case Reason::no_rule:
      return "deny: no rule";
    case Reason::indeterminate:
      return "deny: no rule, indeterminate context";
    case Reason::bad_request:
      return "deny: malformed originator or operation";
    default:
      return "deny";
  }
}

}  // namespace m2msec::authz
