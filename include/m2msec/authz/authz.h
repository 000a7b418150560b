// m2msec/authz/authz.h: the access control decision of TS-0003 clause 7.1
// over the <accessControlPolicy> resources of TS-0001 clause 9.6.2.
//
// TS-0003 clause 7.1.4: "If the access decision algorithm yields the result
// res_acrs = FALSE, or the access decision algorithm is not capable of
// deriving a final result (e.g. due to indeterminate parameters), then the
// access decision for the requested resource shall be "Deny"."
//
// So everything here fails closed: a policy part that cannot be evaluated
// (a location region, a malformed window or address, an attribute this code
// does not know) makes the rule that carries it not permit. Nothing throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "m2msec/core/error.h"

namespace m2msec::authz {

// Operation is one bit of accessControlOperations (TS-0004 m2m:
// accessControlOperations; JSON "acop" is the sum of the granted bits).
enum Operation : unsigned { create = 1, retrieve = 2, update = 4, del = 8, notify = 16, discovery = 32 };

// kAllOperations is the union of the six operation bits; "acop" must lie in
// 1..kAllOperations.
inline constexpr unsigned kAllOperations = 63;

// kDenyRsc is the response status code a Deny maps to:
// 4103 ORIGINATOR_HAS_NO_PRIVILEGE (TS-0004 m2m:responseStatusCode).
inline constexpr int kDenyRsc = 4103;
constexpr int deny_rsc() { return kDenyRsc; }

// Context is one element of accessControlContexts ("acco"). It matches when
// every part it gives matches (res_context = res_time AND res_ip AND res_loc).
struct Context {
  std::vector<std::string> windows;      // "actw": 7-field schedule entries
  std::vector<std::string> ipv4;         // "acip"/"ipv4": a.b.c.d[/n]
  std::vector<std::string> ipv6;         // "acip"/"ipv6": x:x::x[/n]
  bool has_location = false;             // "aclr" present: never evaluable here
  std::vector<std::string> unsupported;  // other keys (e.g. "acl", "acui"): indeterminate
};

// ObjectDetail is one element of accessControlObjectDetails ("acod").
struct ObjectDetail {
  std::optional<int> resource_type;           // "ty": type of the targeted (parent) resource
  std::optional<std::string> specialization;  // "spty": mgmtDefinition / containerDefinition
  std::vector<int> child_types;               // "chty": creatable child resource types
};

// AccessControlRule is one "acr" element.
struct AccessControlRule {
  std::vector<std::string> originators;   // "acor"
  unsigned operations = 0;                // "acop"
  std::vector<Context> contexts;          // "acco"; empty = no restriction
  std::optional<bool> authentication;     // "acaf"; absent = FALSE
  std::vector<ObjectDetail> object_details;  // "acod"; empty = all child types
  std::vector<std::string> unsupported;   // other keys (e.g. "aca"): indeterminate
};

// AccessControlPolicy is an <accessControlPolicy> resource: its identifier
// (the "ri", else the "rn") and the rules of "pv" and "pvs".
struct AccessControlPolicy {
  std::string id;
  std::vector<AccessControlRule> privileges;
  std::vector<AccessControlRule> self_privileges;
};

// parse_acp reads {"m2m:acp": {...}} in the TS-0004 JSON serialisation.
// "pv" and "pvs" are mandatory objects; each "acr" needs "acor" (array of
// non-empty strings) and "acop" (integer 1..63). Fails with
// Errc::malformed_message on a missing member or a wrong JSON type and with
// Errc::invalid_argument on a value out of range or an empty list where a
// set is required ("actw", "acco", "acod", "chty", "acip" without any
// address); an "acod" element without "chty" or with an unknown member is
// malformed. Unknown members of a rule or a context are kept in
// |unsupported| and make it indeterminate. The error detail names the member, never its value. Schedule
// strings and addresses are not checked here: a malformed one makes its
// context indeterminate at decision time. Never throws.
Result<AccessControlPolicy> parse_acp(const nlohmann::json& m2m_acp);

// Request carries the parameters of TS-0003 tables 7.1.2-1..7.1.2-3.
struct Request {
  std::string originator;             // From, in any of the ID forms
  Operation operation = retrieve;     // exactly one bit
  std::int64_t time = 0;              // rq_time: seconds since 1970-01-01T00:00:00Z
  std::optional<std::string> ip;      // rq_ip: source address, no port, no brackets
  bool authenticated = false;         // rq_authn
  std::optional<int> created_type;    // Resource Type of a Create request
  std::string cse_id;                 // hosting CSE-ID, SP-relative ("/in-cse")
  std::string sp_id;                  // hosting SP-ID ("sp.example.com" or "//sp.example.com")
  std::optional<int> target_type;     // type of the resource addressed by To (for "acod"/"ty")
  std::optional<std::string> created_specialization;  // mgmtDefinition/containerDefinition in the Create content
};

// Target selects the attribute evaluated: privileges for any resource,
// selfPrivileges when the request addresses the <accessControlPolicy> itself.
enum class Target { resource, policy };

// GroupResolver maps an accessControlOriginators entry to the member IDs of
// the <group> resource it names, or std::nullopt if it names no group known
// to the hosting CSE. Members must already be flattened (no nested groups).
using GroupResolver = std::function<std::optional<std::vector<std::string>>(std::string_view entry)>;

enum class Decision { permit, deny };

// Reason says why: for logs and tests.
enum class Reason {
  rule,            // permit: rule |rule| of ACP |acp_id|
  default_owner,   // permit: no ACP, and the originator is the creator/custodian
  no_rule,         // deny: no rule matched (or no ACP and no owner match)
  indeterminate,   // deny: no rule matched and at least one could not be evaluated
  bad_request,     // deny: originator empty, malformed or holding a '*', or not exactly one operation bit
};

struct Verdict {
  Decision decision = Decision::deny;
  Reason reason = Reason::no_rule;
  std::string acp_id;    // for Reason::rule
  std::size_t rule = 0;  // index into privileges / selfPrivileges, for Reason::rule
};

// evaluate runs the reference algorithm of TS-0003 clause 7.1.5 with
// permit-overrides across the rules of each ACP and across |acps| (the ACPs
// of accessControlPolicyIDs). With |acps| empty the default policy applies:
// only |owner| (the custodian of the resource if it has one, else its
// creator) is permitted, for every operation. |groups| may be empty.
Verdict evaluate(const Request& request, const std::vector<AccessControlPolicy>& acps, Target target,
                 const GroupResolver& groups, const std::optional<std::string>& owner = std::nullopt);

// decide is evaluate(...).decision.
Decision decide(const Request& request, const std::vector<AccessControlPolicy>& acps, Target target,
                const GroupResolver& groups, const std::optional<std::string>& owner = std::nullopt);

// describe renders a verdict as one printable log line, e.g.
// "permit: acp acp1 rule 2". ACP IDs are escaped (printable()).
std::string describe(const Verdict& verdict);

// absolute_id returns |id| in the absolute form "//sp/..." (TS-0003 table
// 7.1.3-2): "//sp/cse/C1" is kept, SP-relative "/cse/C1" and "/Sx" gain
// "//sp", a CSE-relative "C1" gains "//sp/cse/", and an "S" AE-ID stem
// "Sx" (unique in the SP) gains "//sp/". The SP part is lower-cased.
// std::nullopt if |id| is empty, needs an SP-ID or CSE-ID that is missing,
// or has an empty segment.
std::optional<std::string> absolute_id(std::string_view id, std::string_view cse_id, std::string_view sp_id);

}  // namespace m2msec::authz
