// Table-driven tests of the TS-0003 clause 7.1 access control decision.
//
// Each decision case is {clause, description, policy JSON, request, expected
// decision and reason}; the spec sentence a group of cases checks is quoted
// above the group. Times were made with python3:
//   calendar.timegm((2024,3,13,14,30,15)) = 1710340215  (a Wednesday)
//   calendar.timegm((2024,3,17,12,0,0))   = 1710676800  (a Sunday)
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "m2msec/authz/authz.h"

namespace m2msec::authz {
namespace {

using nlohmann::json;

constexpr std::int64_t kWed = 1710340215;  // 2024-03-13T14:30:15Z, Wednesday
constexpr std::int64_t kSun = 1710676800;  // 2024-03-17T12:00:00Z, Sunday

// rq builds a request to the hosting CSE //sp.example.com/in-cse at kWed.
Request rq(std::string from, Operation op, const std::function<void(Request&)>& tweak = {}) {
  Request r;
  r.originator = std::move(from);
  r.operation = op;
  r.time = kWed;
  r.cse_id = "/in-cse";
  r.sp_id = "sp.example.com";
  if (tweak) tweak(r);
  return r;
}

// acp is one <accessControlPolicy> with the given pv and pvs "acr" arrays.
std::string acp(const std::string& id, const std::string& pv_rules, const std::string& pvs_rules = "") {
  return R"({"m2m:acp":{"ri":")" + id + R"(","pv":{"acr":[)" + pv_rules + R"(]},"pvs":{"acr":[)" + pvs_rules +
         "]}}}";
}
// pv is a policy list holding one ACP "acp1" with the given privileges.
std::string pv(const std::string& rules) { return "[" + acp("acp1", rules) + "]"; }
// rule is {"acor": [acor], "acop": acop, extra...}.
std::string rule(const std::string& acor, unsigned acop, const std::string& extra = "") {
  return R"({"acor":[)" + acor + R"(],"acop":)" + std::to_string(acop) + (extra.empty() ? "" : "," + extra) + "}";
}
// window_rule grants RETRIEVE to "all" inside the given "actw" list.
std::string window_rule(const std::string& actw) { return rule(R"("all")", 2, R"("acco":[{"actw":[)" + actw + "]}]"); }
std::string ip_rule(const std::string& acip) { return rule(R"("all")", 2, R"("acco":[{"acip":)" + acip + "}]"); }

struct Case {
  const char* clause;
  std::string description;
  std::string policies;  // JSON array of m2m:acp documents
  Request request;
  Decision expected;
  Reason reason;
  Target target = Target::resource;
  std::optional<std::string> owner = std::nullopt;
  std::string acp_id = {};  // for Reason::rule
  std::size_t rule = 0;     // for Reason::rule
};

// The <group> resources the hosting CSE knows.
std::optional<std::vector<std::string>> resolve_group(std::string_view id) {
  if (id == "grp1") return std::vector<std::string>{"Cmember", "/in-cse/Cother"};
  if (id == "grpBroken") throw std::runtime_error("store down");
  return std::nullopt;
}

std::vector<Case> cases() {
  constexpr auto P = Decision::permit;
  constexpr auto D = Decision::deny;
  std::vector<Case> c;

  // TS-0003 7.1.3: "If access for all originators is to be allowed, the
  // reserved keyword "all" may be included into the value space of
  // accessControlOriginators."
  c.push_back({"7.1.3", "all: local AE", pv(rule(R"("all")", 2)), rq("Cany", retrieve), P, Reason::rule, {}, {}, "acp1"});
  c.push_back({"7.1.3", "all: AE of another SP", pv(rule(R"("all")", 2)), rq("//other.org/cse9/Cx", retrieve), P,
               Reason::rule, {}, {}, "acp1"});
  c.push_back({"7.1.3", "keyword is \"all\", not \"All\"", pv(rule(R"("All")", 2)), rq("Cany", retrieve), D,
               Reason::no_rule});

  // TS-0003 table 7.1.3-2: CSE-IDs and AE-IDs appear in absolute
  // ("//m2msp.org/myCSEID/C9886") and SP-relative ("/myCSEID/C9886") form;
  // an AE registered to the hosting CSE is also named by its CSE-relative
  // AE-ID. All name the same originator, in the policy and in From.
  const char* forms[] = {"Cae2", "/in-cse/Cae2", "//sp.example.com/in-cse/Cae2"};
  for (const char* a : forms) {
    for (const char* o : forms) {
      c.push_back({"7.1.3 table 7.1.3-2", std::string("acor ") + a + " vs From " + o,
                   pv(rule("\"" + std::string(a) + "\"", 2)), rq(o, retrieve), P, Reason::rule, {}, {}, "acp1"});
    }
  }
  c.push_back({"7.1.3", "same AE-ID under another CSE", pv(rule(R"("Cae2")", 2)), rq("/mn-cse/Cae2", retrieve), D,
               Reason::no_rule});
  c.push_back({"7.1.3", "same path under another SP", pv(rule(R"("Cae2")", 2)),
               rq("//other.org/in-cse/Cae2", retrieve), D, Reason::no_rule});
  c.push_back({"7.1.3", "SP-ID compares case-insensitively", pv(rule(R"("Cae2")", 2)),
               rq("//SP.Example.COM/in-cse/Cae2", retrieve), P, Reason::rule, {}, {}, "acp1"});
  c.push_back({"7.1.3", "AE-ID compares case-sensitively", pv(rule(R"("Cae2")", 2)), rq("CAE2", retrieve), D,
               Reason::no_rule});
  c.push_back({"7.1.3", "no prefix match", pv(rule(R"("Cae2")", 2)), rq("Cae22", retrieve), D, Reason::no_rule});
  c.push_back({"7.1.3 table 7.1.3-2", "S-AE-ID SP-relative vs stem", pv(rule(R"("/Sae9")", 2)), rq("Sae9", retrieve), P,
               Reason::rule, {}, {}, "acp1"});
  c.push_back({"7.1.3 table 7.1.3-2", "S-AE-ID absolute vs stem", pv(rule(R"("//sp.example.com/Sae9")", 2)),
               rq("Sae9", retrieve), P, Reason::rule, {}, {}, "acp1"});
  c.push_back({"7.1.5", "empty From", pv(rule(R"("all")", 2)), rq("", retrieve), D, Reason::bad_request});
  c.push_back({"7.1.5", "From with an empty segment", pv(rule(R"("all")", 2)),
               rq("//sp.example.com//Cae2", retrieve), D, Reason::bad_request});

  // TS-0003 7.1.3: "It is furthermore allowed to use wildcard character "*",
  // in representations of CSE-ID and AE-ID. The scope of a "*" is terminated
  // by a following "/" character."
  c.push_back({"7.1.3", "wildcard in AE-ID", pv(rule(R"("/in-cse/C98*")", 2)), rq("C9886", retrieve), P, Reason::rule,
               {}, {}, "acp1"});
  c.push_back({"7.1.3", "wildcard in AE-ID, no match", pv(rule(R"("/in-cse/C98*")", 2)), rq("/in-cse/C97", retrieve),
               D, Reason::no_rule});
  c.push_back({"7.1.3", "wildcard in SP-relative CSE-ID", pv(rule(R"("/myCSE*")", 2)), rq("/myCSE01", retrieve), P,
               Reason::rule, {}, {}, "acp1"});
  c.push_back({"7.1.3", "wildcard as SP of an absolute AE-ID", pv(rule(R"("//*/myCSEID/C9886")", 2)),
               rq("//other.org/myCSEID/C9886", retrieve), P, Reason::rule, {}, {}, "acp1"});
  c.push_back({"7.1.3", "'*' does not cross '/': //*/C1 vs //sp/in-cse/C1", pv(rule(R"("//*/C1")", 2)),
               rq("C1", retrieve), D, Reason::no_rule});
  c.push_back({"7.1.3", "'*' does not cross '/': /in* vs /in-cse/Cae2", pv(rule(R"("/in*")", 2)), rq("Cae2", retrieve),
               D, Reason::no_rule});
  c.push_back({"7.1.3", "'*' does not cross '/': /in-cse/* vs deeper ID", pv(rule(R"("/in-cse/*")", 2)),
               rq("/in-cse/Cae2/x", retrieve), D, Reason::no_rule});
  c.push_back({"7.1.3", "bare '*' = any AE of the hosting CSE", pv(rule(R"("*")", 2)), rq("Cae2", retrieve), P,
               Reason::rule, {}, {}, "acp1"});
  c.push_back({"7.1.3", "bare '*' not an AE of another CSE", pv(rule(R"("*")", 2)), rq("/mn-cse/Cae2", retrieve), D,
               Reason::no_rule});
  c.push_back({"7.1.3", "no regular expressions: C.*", pv(rule(R"("C.*")", 2)), rq("Cae2", retrieve), D,
               Reason::no_rule});
  c.push_back({"7.1.3", "no regular expressions: Cae[0-9]", pv(rule(R"("Cae[0-9]")", 2)), rq("Cae2", retrieve), D,
               Reason::no_rule});

  // TS-0003 7.1.3: "Using a SP domain name in accessControlOriginators means
  // all AE-IDs and CSE-IDs matching the given domain name can be
  // authorized." "Wildcard characters are not applicable to SP domain
  // names".
  c.push_back({"7.1.3", "SP domain name, originator in the SP", pv(rule(R"("//sp.example.com")", 2)),
               rq("/mn-cse/Cx", retrieve), P, Reason::rule, {}, {}, "acp1"});
  c.push_back({"7.1.3", "SP domain name, originator of another SP", pv(rule(R"("//sp.example.com")", 2)),
               rq("//other.org/cse/Cx", retrieve), D, Reason::no_rule});
  c.push_back({"7.1.3", "no wildcard SP domain name", pv(rule(R"("//*")", 2)), rq("Cae2", retrieve), D,
               Reason::no_rule});
  c.push_back({"7.1.3", "a '*' in From is refused, not matched", pv(rule(R"("//*")", 2)),
               rq("//*/in-cse/Cx", retrieve), D, Reason::bad_request});
  c.push_back({"7.1.3", "a '*' in From does not match an exact entry", pv(rule(R"("C*")", 2)), rq("C*", retrieve), D,
               Reason::bad_request});

  // TS-0003 7.1.3: accessControlOriginators comprises "resource-IDs of
  // <group> resources"; "Wildcard characters are not applicable to ...
  // resource-IDs of <group> resources".
  c.push_back({"7.1.3", "group member", pv(rule(R"("grp1")", 2)), rq("Cmember", retrieve), P, Reason::rule, {}, {},
               "acp1"});
  c.push_back({"7.1.3", "group member listed in another ID form", pv(rule(R"("grp1")", 2)),
               rq("//sp.example.com/in-cse/Cother", retrieve), P, Reason::rule, {}, {}, "acp1"});
  c.push_back({"7.1.3", "not a group member", pv(rule(R"("grp1")", 2)), rq("Cnot", retrieve), D, Reason::no_rule});
  c.push_back({"7.1.3", "unknown group", pv(rule(R"("grpUnknown")", 2)), rq("Cae2", retrieve), D, Reason::no_rule});
  c.push_back({"7.1.3", "originator named like the group is not a member", pv(rule(R"("grp1")", 2)),
               rq("grp1", retrieve), D, Reason::no_rule});
  c.push_back({"7.1.4", "group lookup fails: indeterminate", pv(rule(R"("grpBroken")", 2)), rq("Cae2", retrieve), D,
               Reason::indeterminate});

  // TS-0003 7.1.5: "res_ops(k) = ismember(Operation,
  // acr(k)_accessControlOperations)"; acop is the sum of CREATE 1,
  // RETRIEVE 2, UPDATE 4, DELETE 8, NOTIFY 16, DISCOVERY 32.
  for (Operation op : {create, retrieve, update, del, notify, discovery}) {
    const auto bit = static_cast<unsigned>(op);
    c.push_back({"7.1.5", "acop " + std::to_string(bit) + " grants its operation", pv(rule(R"("Cae2")", bit)),
                 rq("Cae2", op), P, Reason::rule, {}, {}, "acp1"});
    c.push_back({"7.1.5", "acop " + std::to_string(63 & ~bit) + " lacks operation " + std::to_string(bit),
                 pv(rule(R"("Cae2")", 63 & ~bit)), rq("Cae2", op), D, Reason::no_rule});
  }
  c.push_back({"7.1.5", "acop 5 = CREATE+UPDATE: update", pv(rule(R"("Cae2")", 5)), rq("Cae2", update), P,
               Reason::rule, {}, {}, "acp1"});
  c.push_back({"7.1.5", "acop 5 = CREATE+UPDATE: retrieve", pv(rule(R"("Cae2")", 5)), rq("Cae2", retrieve), D,
               Reason::no_rule});
  c.push_back({"7.1.5", "acop 34 = RETRIEVE+DISCOVERY: discovery", pv(rule(R"("Cae2")", 34)), rq("Cae2", discovery), P,
               Reason::rule, {}, {}, "acp1"});
  c.push_back({"7.1.5", "acop 34 = RETRIEVE+DISCOVERY: delete", pv(rule(R"("Cae2")", 34)), rq("Cae2", del), D,
               Reason::no_rule});
  c.push_back({"7.1.5", "request with two operation bits", pv(rule(R"("Cae2")", 63)),
               rq("Cae2", static_cast<Operation>(3)), D, Reason::bad_request});
  c.push_back({"7.1.5", "request with no operation bit", pv(rule(R"("Cae2")", 63)),
               rq("Cae2", static_cast<Operation>(0)), D, Reason::bad_request});
  c.push_back({"7.1.5", "request with an unknown operation bit", pv(rule(R"("Cae2")", 63)),
               rq("Cae2", static_cast<Operation>(64)), D, Reason::bad_request});

  // TS-0003 7.1.5: the algorithm "adopts a "Permit-overrides" combining
  // algorithm with respect to access control rules and ACPs"; "res_acrs =
  // res_acr(1) OR res_acr(2) ... OR res_acr(K)"; "if the access control
  // decision for one access control rule results in res_acr = TRUE, the
  // reference access decision algorithm can stop".
  c.push_back({"7.1.5", "second rule of one ACP permits",
               pv(rule(R"("Cother")", 63) + "," + rule(R"("Cae2")", 2)), rq("Cae2", retrieve), P, Reason::rule, {}, {},
               "acp1", 1});
  c.push_back({"7.1.5", "first permitting rule is reported", pv(rule(R"("all")", 2) + "," + rule(R"("Cae2")", 2)),
               rq("Cae2", retrieve), P, Reason::rule, {}, {}, "acp1", 0});
  c.push_back({"7.1.5", "second ACP permits",
               "[" + acp("acpA", rule(R"("Cother")", 63)) + "," + acp("acpB", rule(R"("Cae2")", 2)) + "]",
               rq("Cae2", retrieve), P, Reason::rule, {}, {}, "acpB", 0});
  c.push_back({"7.1.5", "no ACP of the set permits",
               "[" + acp("acpA", rule(R"("Cother")", 63)) + "," + acp("acpB", rule(R"("Cae2")", 4)) + "]",
               rq("Cae2", retrieve), D, Reason::no_rule});
  c.push_back({"7.1.5", "ACP without rules", pv(""), rq("Cae2", retrieve), D, Reason::no_rule});
  c.push_back({"7.1.5", "indeterminate rule does not block a permitting one",
               pv(rule(R"("all")", 2, R"("acco":[{"aclr":{"accc":["KR"]}}])") + "," + rule(R"("Cae2")", 2)),
               rq("Cae2", retrieve), P, Reason::rule, {}, {}, "acp1", 1});

  // TS-0003 7.1.1: "Access requests to ACP's itself are evaluated against
  // the selfPrivileges attribute of that ACP. Access requests to instances of
  // all other resource types, are evaluated against the privileges
  // attributes of the ACP set associated with the targeted resource."
  const std::string split = "[" + acp("acp1", rule(R"("Cae2")", 2), rule(R"("Cadmin")", 4)) + "]";
  c.push_back({"7.1.1", "privileges grant the resource", split, rq("Cae2", retrieve), P, Reason::rule,
               Target::resource, {}, "acp1"});
  c.push_back({"7.1.1", "privileges do not grant the ACP itself", split, rq("Cae2", retrieve), D, Reason::no_rule,
               Target::policy});
  c.push_back({"7.1.1", "selfPrivileges grant the ACP itself", split, rq("Cadmin", update), P, Reason::rule,
               Target::policy, {}, "acp1"});
  c.push_back({"7.1.1", "selfPrivileges do not grant the resource", split, rq("Cadmin", update), D, Reason::no_rule,
               Target::resource});

  // Default access policy (TS-0001, as oneM2M describes it: "If there is no
  // custodian attribute associated with the resource then the default
  // policy shall provide unrestricted access to the creator of the
  // resource. All other entities shall be denied access").
  c.push_back({"TS-0001 default policy", "owner, any form, any operation", "[]", rq("/in-cse/Cae2", del), P,
               Reason::default_owner, Target::resource, "Cae2"});
  c.push_back({"TS-0001 default policy", "not the owner", "[]", rq("Cae3", retrieve), D, Reason::no_rule,
               Target::resource, "Cae2"});
  c.push_back({"TS-0001 default policy", "no owner known", "[]", rq("Cae2", retrieve), D, Reason::no_rule});
  c.push_back({"TS-0001 default policy", "owner gets nothing extra when ACPs apply", pv(rule(R"("Cother")", 63)),
               rq("Cae2", retrieve), D, Reason::no_rule, Target::resource, "Cae2"});

  // TS-0003 7.1.3: "The accessControlWindow parameter represents a list of
  // elements that comply with the extended crontab syntax as defined in
  // clause 7.3.8 of oneM2M TS-0004 [4]. It allows definition of periodically
  // recurring time intervals at which access can be granted, when the
  // rq_time parameter associated with the access request message falls into
  // such interval." Fields: second minute hour day-of-month month
  // day-of-week year. kWed = Wed 2024-03-13 14:30:15 UTC.
  struct W {
    const char* actw;
    std::int64_t time;
    Decision d;
    Reason r;
  };
  const W windows[] = {
      {R"("* * * * * * *")", kWed, P, Reason::rule},
      {R"("* * 14 * * * *")", kWed, P, Reason::rule},
      {R"("* * 15 * * * *")", kWed, D, Reason::no_rule},
      {R"("* * 9-17 * * * *")", kWed, P, Reason::rule},
      {R"("* * 0-13 * * * *")", kWed, D, Reason::no_rule},
      {R"("* 0,30 * * * * *")", kWed, P, Reason::rule},
      {R"("* 0,31 * * * * *")", kWed, D, Reason::no_rule},
      {R"("*/5 * * * * * *")", kWed, P, Reason::rule},     // second 15
      {R"("*/4 * * * * * *")", kWed, D, Reason::no_rule},  // 0,4,8,12,16
      {R"("* * * */2 * * *")", kWed, P, Reason::rule},     // day 13 of 1,3,...,13
      {R"("* * * */5 * * *")", kWed, D, Reason::no_rule},  // 1,6,11,16
      {R"("* 0-59/15 * * * * *")", kWed, P, Reason::rule},
      {R"("* 5-59/15 * * * * *")", kWed, D, Reason::no_rule},  // 5,20,35,50
      {R"("* * * * 3 * *")", kWed, P, Reason::rule},
      {R"("* * * * 4 * *")", kWed, D, Reason::no_rule},
      {R"("* * * * * 3 *")", kWed, P, Reason::rule},  // Wednesday
      {R"("* * * * * 1-5 *")", kWed, P, Reason::rule},
      {R"("* * * * * 0,6 *")", kWed, D, Reason::no_rule},
      {R"("* * * * * 0 *")", kSun, P, Reason::rule},
      {R"("* * * * * 7 *")", kSun, P, Reason::rule},  // 7 is Sunday too
      {R"("* * * * * 7 *")", kWed, D, Reason::no_rule},
      {R"("* * * * * * 2024")", kWed, P, Reason::rule},
      {R"("* * * * * * 1984")", kWed, D, Reason::no_rule},
      {R"("* * * 13 * 5 *")", kWed, D, Reason::no_rule},  // the 13th, but not a Friday: all fields must match
      {R"("0 0 1 * * * *", "* * 14 * * * *")", kWed, P, Reason::rule},
      // TS-0003 7.1.4: "...not capable of deriving a final result (e.g. due
      // to indeterminate parameters), then the access decision ... shall be
      // "Deny"."
      {R"("* * * * *")", kWed, D, Reason::indeterminate},  // crontab(5) has 5 fields; this has 7
      {R"("* * * * * * * *")", kWed, D, Reason::indeterminate},
      {R"("* * 24 * * * *")", kWed, D, Reason::indeterminate},
      {R"("* * * 0 * * *")", kWed, D, Reason::indeterminate},
      {R"("* * * * * MON *")", kWed, D, Reason::indeterminate},
      {R"("* */0 * * * * *")", kWed, D, Reason::indeterminate},
      {R"("* * 17-9 * * * *")", kWed, D, Reason::indeterminate},
      {R"("* 5/15 * * * * *")", kWed, D, Reason::indeterminate},
      {R"("* * 1,,2 * * * *")", kWed, D, Reason::indeterminate},
      {R"("* * -1 * * * *")", kWed, D, Reason::indeterminate},
      {R"("* * 15 * * * 99999")", kWed, D, Reason::indeterminate},  // malformed after a non-matching field
      {R"("* * 14 * * * *")", -1, D, Reason::indeterminate},        // before 1970
      {R"("bad", "* * 14 * * * *")", kWed, P, Reason::rule},        // another window matches
      {R"("bad", "* * 15 * * * *")", kWed, D, Reason::indeterminate},
  };
  for (const W& w : windows) {
    c.push_back({"7.1.3 actw", std::string("actw [") + w.actw + "] at " + std::to_string(w.time),
                 pv(window_rule(w.actw)), rq("Cae2", retrieve, [&](Request& r) { r.time = w.time; }), w.d, w.r,
                 {}, {}, w.d == P ? "acp1" : ""});
  }

  // TS-0003 7.1.3: "The accessControlIpAddresses parameter represents a list
  // of IPv4 and IPv6 addresses in dotted-decimal notation with CIDR suffix
  // or colon separated groups of hexadecimal digits with CIDR suffix,
  // respectively." res_ip(k, m) = ismember(rq_ip, ...).
  struct I {
    const char* acip;
    std::optional<std::string> ip;
    Decision d;
    Reason r;
  };
  const I ips[] = {
      {R"({"ipv4":["10.1.0.0/16"]})", "10.1.2.3", P, Reason::rule},
      {R"({"ipv4":["10.1.0.0/16"]})", "10.2.0.1", D, Reason::no_rule},
      {R"({"ipv4":["0.0.0.0/0"]})", "192.0.2.1", P, Reason::rule},
      {R"({"ipv4":["192.0.2.64/26"]})", "192.0.2.100", P, Reason::rule},
      {R"({"ipv4":["192.0.2.64/26"]})", "192.0.2.128", D, Reason::no_rule},
      {R"({"ipv4":["192.0.2.64/26"]})", "192.0.2.63", D, Reason::no_rule},
      {R"({"ipv4":["192.0.2.1"]})", "192.0.2.1", P, Reason::rule},
      {R"({"ipv4":["192.0.2.1"]})", "192.0.2.2", D, Reason::no_rule},
      {R"({"ipv6":["2001:db8::/32"]})", "2001:db8:1::5", P, Reason::rule},
      {R"({"ipv6":["2001:db8::/32"]})", "2001:db9::1", D, Reason::no_rule},
      {R"({"ipv6":["2001:db8::/127"]})", "2001:db8::1", P, Reason::rule},
      {R"({"ipv6":["2001:db8::/127"]})", "2001:db8::2", D, Reason::no_rule},
      {R"({"ipv4":["10.0.0.0/8"]})", "::ffff:10.0.0.1", D, Reason::no_rule},  // mapped is not IPv4
      {R"({"ipv6":["::ffff:0:0/96"]})", "::ffff:10.0.0.1", P, Reason::rule},
      {R"({"ipv6":["2001:db8::/32"]})", "10.0.0.1", D, Reason::no_rule},
      {R"({"ipv4":["10.0.0.0/8"],"ipv6":["2001:db8::/32"]})", "2001:db8::9", P, Reason::rule},
      {R"({"ipv4":["10.1.0.0/33"]})", "10.1.2.3", D, Reason::indeterminate},
      {R"({"ipv4":["10.1.0/16"]})", "10.1.2.3", D, Reason::indeterminate},
      {R"({"ipv4":["10.1.0.0/"]})", "10.1.2.3", D, Reason::indeterminate},
      {R"({"ipv4":["10.1.0.0/016"]})", "10.1.2.3", D, Reason::indeterminate},
      {R"({"ipv4":["010.1.0.0/16"]})", "10.1.2.3", D, Reason::indeterminate},
      {R"({"ipv6":["2001:db8::/129"]})", "2001:db8::1", D, Reason::indeterminate},
      {R"({"ipv4":["2001:db8::1"]})", "2001:db8::1", D, Reason::indeterminate},  // IPv6 in the IPv4 list
      {R"({"ipv4":["10.0.0.0/8"]})", "10.1.2", D, Reason::indeterminate},
      {R"({"ipv6":["::1"]})", "[::1]", D, Reason::indeterminate},
      {R"({"ipv4":["10.0.0.0/8"]})", std::nullopt, D, Reason::indeterminate},  // no rq_ip
      {R"({"ipv4":["bad","10.0.0.0/8"]})", "10.1.2.3", P, Reason::rule},      // another address matches
  };
  for (const I& i : ips) {
    c.push_back({"7.1.3 acip", std::string("acip ") + i.acip + " from " + i.ip.value_or("(none)"), pv(ip_rule(i.acip)),
                 rq("Cae2", retrieve, [&](Request& r) { r.ip = i.ip; }), i.d, i.r, {}, {}, i.d == P ? "acp1" : ""});
  }

  // TS-0003 7.1.5: "res_ctxts(k) = res_context(k, 1) ... OR res_context(k,
  // M_k)" and "res_context(k, m) = res_time(k, m) AND res_ip(k, m) AND
  // res_loc (k, m)".
  const auto ctx_rule = [](const std::string& acco) { return pv(rule(R"("all")", 2, R"("acco":)" + acco)); };
  const auto from10 = [](Request& r) { r.ip = "10.1.2.3"; };
  c.push_back({"7.1.5", "time and IP both match", ctx_rule(R"([{"actw":["* * 14 * * * *"],"acip":{"ipv4":["10.0.0.0/8"]}}])"),
               rq("Cae2", retrieve, from10), P, Reason::rule, {}, {}, "acp1"});
  c.push_back({"7.1.5", "time matches, IP does not", ctx_rule(R"([{"actw":["* * 14 * * * *"],"acip":{"ipv4":["11.0.0.0/8"]}}])"),
               rq("Cae2", retrieve, from10), D, Reason::no_rule});
  c.push_back({"7.1.5", "second context matches",
               ctx_rule(R"([{"actw":["* * 15 * * * *"]},{"acip":{"ipv4":["10.0.0.0/8"]}}])"),
               rq("Cae2", retrieve, from10), P, Reason::rule, {}, {}, "acp1"});
  // "res_loc (k, m) = ismember(rq_loc, acr(k)_accessControlLocationRegion(m))":
  // m2msec has no rq_loc, so a location part is never derivable.
  c.push_back({"7.1.4", "location region: indeterminate", ctx_rule(R"([{"aclr":{"accc":["KR"]}}])"),
               rq("Cae2", retrieve), D, Reason::indeterminate});
  c.push_back({"7.1.4", "location region with a matching window: indeterminate",
               ctx_rule(R"([{"actw":["* * 14 * * * *"],"aclr":{"accc":["KR"]}}])"), rq("Cae2", retrieve), D,
               Reason::indeterminate});
  c.push_back({"7.1.4", "location region with a failing window: FALSE",
               ctx_rule(R"([{"actw":["* * 15 * * * *"],"aclr":{"accc":["KR"]}}])"), rq("Cae2", retrieve), D,
               Reason::no_rule});
  c.push_back({"7.1.5", "location context OR a matching window context",
               ctx_rule(R"([{"aclr":{"accc":["KR"]}},{"actw":["* * 14 * * * *"]}])"), rq("Cae2", retrieve), P,
               Reason::rule, {}, {}, "acp1"});
  c.push_back({"7.1.4", "unknown context part (accessControlLimit)", ctx_rule(R"([{"acl":5}])"), rq("Cae2", retrieve), D,
               Reason::indeterminate});
  c.push_back({"7.1.4", "unknown rule part (accessControlAttributes)",
               pv(rule(R"("all")", 2, R"("aca":["lbl"])")), rq("Cae2", retrieve), D, Reason::indeterminate});

  // TS-0003 7.1.3: "If the accessControlAuthenticationFlag parameter is not
  // present, then the value is assumed to be FALSE. If the
  // accessControlAuthenticationFlag parameter is TRUE, then this indicates
  // that the access control rule applies only to Originators considered to
  // have been authenticated by the Hosting CSE." (table 7.1.5-1)
  const auto authn = [](Request& r) { r.authenticated = true; };
  c.push_back({"7.1.5 table 7.1.5-1", "acaf true, not authenticated", pv(rule(R"("Cae2")", 2, R"("acaf":true)")),
               rq("Cae2", retrieve), D, Reason::no_rule});
  c.push_back({"7.1.5 table 7.1.5-1", "acaf true, authenticated", pv(rule(R"("Cae2")", 2, R"("acaf":true)")),
               rq("Cae2", retrieve, authn), P, Reason::rule, {}, {}, "acp1"});
  c.push_back({"7.1.5 table 7.1.5-1", "acaf false, not authenticated", pv(rule(R"("Cae2")", 2, R"("acaf":false)")),
               rq("Cae2", retrieve), P, Reason::rule, {}, {}, "acp1"});
  c.push_back({"7.1.5 table 7.1.5-1", "acaf absent, not authenticated", pv(rule(R"("Cae2")", 2)), rq("Cae2", retrieve),
               P, Reason::rule, {}, {}, "acp1"});

  // TS-0003 7.1.3: "Child resource types listed in the childResourceType
  // component are subject of access control for the Create operation only."
  // "An access control rule which does not include any
  // accessControlObjectDetails parameters applies to all child resource
  // types of the target resource." "If either the resourceType or
  // specializationType element is present ..., the CSE matches the type of
  // resource or specialization of the targeted resource ... Further checking
  // of childResourceType is done only if the resourceType or
  // specializationType match occurs."
  const auto creating = [](int ty, std::optional<int> target = std::nullopt,
                           std::optional<std::string> spec = std::nullopt) {
    return [=](Request& r) {
      r.created_type = ty;
      r.target_type = target;
      r.created_specialization = spec;
    };
  };
  const std::string cnt_only = pv(rule(R"("Cae2")", 63, R"("acod":[{"chty":[3]}])"));
  c.push_back({"7.1.3 acod", "create a listed child type", cnt_only, rq("Cae2", create, creating(3)), P, Reason::rule,
               {}, {}, "acp1"});
  c.push_back({"7.1.3 acod", "create an unlisted child type", cnt_only, rq("Cae2", create, creating(4)), D,
               Reason::no_rule});
  c.push_back({"7.1.3 acod", "acod does not restrict retrieve", cnt_only, rq("Cae2", retrieve), P, Reason::rule, {}, {},
               "acp1"});
  c.push_back({"7.1.3 acod", "create without Resource Type", cnt_only, rq("Cae2", create), D, Reason::indeterminate});
  c.push_back({"7.1.3 acod", "no acod: any child type", pv(rule(R"("Cae2")", 1)), rq("Cae2", create, creating(4)), P,
               Reason::rule, {}, {}, "acp1"});
  c.push_back({"7.1.5 acod", "second acod element matches",
               pv(rule(R"("Cae2")", 1, R"("acod":[{"chty":[3]},{"chty":[4,23]}])")), rq("Cae2", create, creating(23)),
               P, Reason::rule, {}, {}, "acp1"});
  const std::string under_ae = pv(rule(R"("Cae2")", 1, R"("acod":[{"ty":2,"chty":[3]}])"));
  c.push_back({"7.1.5 acod", "ty matches the target", under_ae, rq("Cae2", create, creating(3, 2)), P, Reason::rule, {},
               {}, "acp1"});
  c.push_back({"7.1.5 acod", "ty differs from the target", under_ae, rq("Cae2", create, creating(3, 5)), D,
               Reason::no_rule});
  c.push_back({"7.1.5 acod", "ty given, target type unknown", under_ae, rq("Cae2", create, creating(3)), D,
               Reason::indeterminate});
  // "If specializationType is present, it shall be matched against the
  // mgmtDefinition or containerDefinition attributes given in the Content
  // parameter of the Create request primitive."
  const std::string fw = pv(rule(R"("Cae2")", 1, R"("acod":[{"spty":"1001","chty":[13]}])"));
  c.push_back({"7.1.5 acod", "specialization matches", fw, rq("Cae2", create, creating(13, 14, "1001")), P,
               Reason::rule, {}, {}, "acp1"});
  c.push_back({"7.1.5 acod", "specialization differs", fw, rq("Cae2", create, creating(13, 14, "1002")), D,
               Reason::no_rule});
  c.push_back({"7.1.5 acod", "specialization absent from the content", fw, rq("Cae2", create, creating(13, 14)), D,
               Reason::no_rule});
  return c;
}

std::vector<AccessControlPolicy> parse_all(const std::string& text) {
  std::vector<AccessControlPolicy> out;
  const json doc = json::parse(text);
  for (const json& d : doc) {
    auto acp = parse_acp(d);
    EXPECT_TRUE(acp) << acp.error().message();
    if (acp) out.push_back(std::move(*acp));
  }
  return out;
}

TEST(Decide, Table) {
  for (const Case& k : cases()) {
    SCOPED_TRACE(std::string(k.clause) + ": " + k.description);
    const auto acps = parse_all(k.policies);
    const Verdict v = evaluate(k.request, acps, k.target, resolve_group, k.owner);
    EXPECT_EQ(v.decision, k.expected) << describe(v);
    EXPECT_EQ(v.reason, k.reason) << describe(v);
    if (k.reason == Reason::rule) {
      EXPECT_EQ(v.acp_id, k.acp_id);
      EXPECT_EQ(v.rule, k.rule);
    }
    EXPECT_EQ(decide(k.request, acps, k.target, resolve_group, k.owner), k.expected);
  }
}

TEST(Decide, EmptyResolverMeansNoGroups) {
  const auto acps = parse_all(pv(rule(R"("grp1")", 2)));
  EXPECT_EQ(decide(rq("Cmember", retrieve), acps, Target::resource, GroupResolver{}), Decision::deny);
}

TEST(Decide, DenyMapsTo4103) {
  // TS-0004: 4103 ORIGINATOR_HAS_NO_PRIVILEGE.
  EXPECT_EQ(deny_rsc(), 4103);
  EXPECT_EQ(kDenyRsc, 4103);
}

TEST(Decide, DescribeEscapesTheAcpId) {
  Verdict v{Decision::permit, Reason::rule, "acp\n1", 2};
  EXPECT_EQ(describe(v), "permit: acp acp\\x0a1 rule 2");
  EXPECT_EQ(describe(Verdict{Decision::deny, Reason::indeterminate, {}, 0}), "deny: no rule, indeterminate context");
}

// TS-0003 table 7.1.3-2: the equivalent ID forms.
TEST(AbsoluteId, Forms) {
  struct F {
    const char* id;
    std::optional<std::string> want;
  };
  const F forms[] = {
      {"Cae2", "//sp.example.com/in-cse/Cae2"},
      {"/in-cse/Cae2", "//sp.example.com/in-cse/Cae2"},
      {"//SP.example.com/in-cse/Cae2", "//sp.example.com/in-cse/Cae2"},
      {"Sae9", "//sp.example.com/Sae9"},
      {"/Sae9", "//sp.example.com/Sae9"},
      {"", std::nullopt},
      {"//sp.example.com", std::nullopt},
      {"/in-cse//Cae2", std::nullopt},
      {"Cae2/", std::nullopt},
  };
  for (const F& f : forms) {
    EXPECT_EQ(absolute_id(f.id, "/in-cse", "//sp.example.com"), f.want) << f.id;
  }
  EXPECT_EQ(absolute_id("Cae2", "", "sp.example.com"), std::nullopt);  // no hosting CSE-ID
  EXPECT_EQ(absolute_id("/in-cse/Cae2", "/in-cse", ""), std::nullopt);  // no SP-ID
  EXPECT_EQ(absolute_id("Cae2", "in-cse", "sp.example.com"), "//sp.example.com/in-cse/Cae2");
  EXPECT_EQ(absolute_id("Cae2", "//sp.example.com/in-cse", "sp.example.com"), "//sp.example.com/in-cse/Cae2");
}

// A complete policy, every member read into the right field.
TEST(ParseAcp, ReadsEveryMember) {
  const json doc = json::parse(R"({"m2m:acp":{"rn":"name","ri":"acp7","ty":1,
    "pv":{"acr":[{"acor":["all","/in-cse/C1"],"acop":35,
      "acco":[{"actw":["* * 9-17 * * 1-5 *"],"acip":{"ipv4":["10.0.0.0/8"],"ipv6":["2001:db8::/32"]},
               "aclr":{"accc":["KR"]},"acl":3}],
      "acaf":true,"acod":[{"ty":2,"spty":"1001","chty":[3,4]}],"aca":["lbl"]}]},
    "pvs":{"acr":[{"acor":["Cadmin"],"acop":63}]}}})");
  auto acp = parse_acp(doc);
  ASSERT_TRUE(acp) << acp.error().message();
  EXPECT_EQ(acp->id, "acp7");
  ASSERT_EQ(acp->privileges.size(), 1u);
  const auto& r = acp->privileges[0];
  EXPECT_EQ(r.originators, (std::vector<std::string>{"all", "/in-cse/C1"}));
  EXPECT_EQ(r.operations, 35u);
  ASSERT_EQ(r.contexts.size(), 1u);
  EXPECT_EQ(r.contexts[0].windows, std::vector<std::string>{"* * 9-17 * * 1-5 *"});
  EXPECT_EQ(r.contexts[0].ipv4, std::vector<std::string>{"10.0.0.0/8"});
  EXPECT_EQ(r.contexts[0].ipv6, std::vector<std::string>{"2001:db8::/32"});
  EXPECT_TRUE(r.contexts[0].has_location);
  EXPECT_EQ(r.contexts[0].unsupported, std::vector<std::string>{"acl"});
  EXPECT_EQ(r.authentication, true);
  ASSERT_EQ(r.object_details.size(), 1u);
  EXPECT_EQ(r.object_details[0].resource_type, 2);
  EXPECT_EQ(r.object_details[0].specialization, "1001");
  EXPECT_EQ(r.object_details[0].child_types, (std::vector<int>{3, 4}));
  EXPECT_EQ(r.unsupported, std::vector<std::string>{"aca"});
  ASSERT_EQ(acp->self_privileges.size(), 1u);
  EXPECT_EQ(acp->self_privileges[0].originators, std::vector<std::string>{"Cadmin"});
  EXPECT_EQ(acp->self_privileges[0].operations, 63u);
  EXPECT_FALSE(acp->self_privileges[0].authentication.has_value());

  auto rn_only = parse_acp(json::parse(R"({"m2m:acp":{"rn":"byname","pv":{},"pvs":{"acr":[]}}})"));
  ASSERT_TRUE(rn_only);
  EXPECT_EQ(rn_only->id, "byname");
  EXPECT_TRUE(rn_only->privileges.empty());
}

// acr0 is the first privileges rule of a policy document.
json& acr0(json& d) { return d["m2m:acp"]["pv"]["acr"][0]; }

// Refusals: each case changes one member of a valid policy.
TEST(ParseAcp, Refusals) {
  const json base = json::parse(R"({"m2m:acp":{"ri":"acp1",
    "pv":{"acr":[{"acor":["Cae2"],"acop":2,
      "acco":[{"actw":["* * * * * * *"],"acip":{"ipv4":["10.0.0.0/8"]},"aclr":{"accc":["KR"]}}],
      "acaf":true,"acod":[{"ty":2,"spty":"1001","chty":[3]}]}]},
    "pvs":{"acr":[{"acor":["Cadmin"],"acop":63}]}}})");
  ASSERT_TRUE(parse_acp(base)) << "the base must parse, or the refusals prove nothing";

  struct R {
    const char* clause;
    const char* description;
    std::function<void(json&)> mutate;
    Errc want;
  };
  constexpr auto M = Errc::malformed_message;
  constexpr auto A = Errc::invalid_argument;
  const R refusals[] = {
      {"TS-0004", "not an object", [](json& d) { d = json::array(); }, M},
      {"TS-0004", "no m2m:acp", [](json& d) { d = json{{"m2m:cnt", json::object()}}; }, M},
      {"TS-0004", "m2m:acp is a string", [](json& d) { d["m2m:acp"] = "x"; }, M},
      {"TS-0001 9.6.2", "pv missing", [](json& d) { d["m2m:acp"].erase("pv"); }, M},
      {"TS-0001 9.6.2", "pvs missing", [](json& d) { d["m2m:acp"].erase("pvs"); }, M},
      {"TS-0004", "pv is an array", [](json& d) { d["m2m:acp"]["pv"] = json::array(); }, M},
      {"TS-0004", "acr is an object", [](json& d) { d["m2m:acp"]["pvs"]["acr"] = json::object(); }, M},
      {"TS-0004", "acr element is a string", [](json& d) { d["m2m:acp"]["pvs"]["acr"][0] = "all"; }, M},
      {"TS-0004", "ri is a number", [](json& d) { d["m2m:acp"]["ri"] = 7; }, M},
      {"7.1.3 table 7.1.3-1", "acor missing", [](json& d) { acr0(d).erase("acor"); }, M},
      {"7.1.3 table 7.1.3-1", "acop missing", [](json& d) { acr0(d).erase("acop"); }, M},
      {"TS-0004", "acor is a string", [](json& d) { acr0(d)["acor"] = "Cae2"; }, M},
      {"TS-0004", "acor element is a number", [](json& d) { acr0(d)["acor"] = json::array({1}); }, M},
      {"TS-0004", "acor element is empty", [](json& d) { acr0(d)["acor"] = json::array({""}); }, A},
      {"TS-0004", "acop is a string", [](json& d) { acr0(d)["acop"] = "2"; }, M},
      {"TS-0004", "acop is a float", [](json& d) { acr0(d)["acop"] = 2.0; }, M},
      {"TS-0004", "acop is a boolean", [](json& d) { acr0(d)["acop"] = true; }, M},
      {"TS-0004", "acop 0", [](json& d) { acr0(d)["acop"] = 0; }, A},
      {"TS-0004", "acop 64", [](json& d) { acr0(d)["acop"] = 64; }, A},
      {"TS-0004", "acop -1", [](json& d) { acr0(d)["acop"] = -1; }, A},
      {"TS-0004", "acop 2^64-1", [](json& d) { acr0(d)["acop"] = UINT64_MAX; }, A},
      {"TS-0004", "acaf is a string", [](json& d) { acr0(d)["acaf"] = "true"; }, M},
      {"TS-0004", "acco is an object", [](json& d) { acr0(d)["acco"] = json::object(); }, M},
      {"7.1.3", "acco is empty", [](json& d) { acr0(d)["acco"] = json::array(); }, A},
      {"TS-0004", "acco element is an array", [](json& d) { acr0(d)["acco"][0] = json::array(); }, M},
      {"TS-0004", "actw is a string", [](json& d) { acr0(d)["acco"][0]["actw"] = "* * * * * * *"; }, M},
      {"TS-0004", "actw element is a number", [](json& d) { acr0(d)["acco"][0]["actw"] = json::array({5}); }, M},
      {"7.1.3", "actw is empty", [](json& d) { acr0(d)["acco"][0]["actw"] = json::array(); }, A},
      {"TS-0004", "acip is an array", [](json& d) { acr0(d)["acco"][0]["acip"] = json::array(); }, M},
      {"TS-0004", "acip/ipv4 is a string", [](json& d) { acr0(d)["acco"][0]["acip"]["ipv4"] = "10.0.0.0/8"; }, M},
      {"7.1.3", "acip without addresses", [](json& d) { acr0(d)["acco"][0]["acip"] = json::object(); }, A},
      {"TS-0004", "aclr is a string", [](json& d) { acr0(d)["acco"][0]["aclr"] = "KR"; }, M},
      {"TS-0004", "acod is an object", [](json& d) { acr0(d)["acod"] = json::object(); }, M},
      {"7.1.5", "acod is empty", [](json& d) { acr0(d)["acod"] = json::array(); }, A},
      {"7.1.5", "acod without chty", [](json& d) { acr0(d)["acod"][0].erase("chty"); }, M},
      {"7.1.5", "chty is empty", [](json& d) { acr0(d)["acod"][0]["chty"] = json::array(); }, A},
      {"TS-0004", "chty element is a string", [](json& d) { acr0(d)["acod"][0]["chty"] = json::array({"3"}); }, M},
      {"TS-0004", "chty element is negative", [](json& d) { acr0(d)["acod"][0]["chty"] = json::array({-3}); }, A},
      {"TS-0004", "ty is a string", [](json& d) { acr0(d)["acod"][0]["ty"] = "2"; }, M},
      {"TS-0004", "spty is a boolean", [](json& d) { acr0(d)["acod"][0]["spty"] = false; }, M},
      {"TS-0004", "acod has an unknown member", [](json& d) { acr0(d)["acod"][0]["xyz"] = 1; }, M},
  };
  for (const R& r : refusals) {
    SCOPED_TRACE(std::string(r.clause) + ": " + r.description);
    json doc = base;
    r.mutate(doc);
    auto acp = parse_acp(doc);
    if (acp) {
      ADD_FAILURE() << "accepted";
      continue;
    }
    EXPECT_EQ(acp.error().code(), r.want) << acp.error().message();
  }
}

}  // namespace
}  // namespace m2msec::authz
