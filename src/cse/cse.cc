// cse.cc: the resource-holding CSE behind Entity B. The order of every
// request: find the target, decide access (TS-0003 7.1), then act.
#include "m2msec/cse/cse.h"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <exception>
#include <set>

#include <nlohmann/json.hpp>

#include "m2msec/authz/authz.h"
#include "m2msec/core/encoding.h"
#include "m2msec/core/ids.h"
#include "resources.h"

namespace m2msec::cse {
namespace {

using proto::Operation;
using proto::Request;
using proto::Response;
using proto::Rsc;
using store::ResourceRecord;

// kMaxAcpIds bounds accessControlPolicyIDs. Groups named in
// accessControlOriginators are expanded at most kMaxGroupDepth deep, with
// at most kMaxGroupLookups store lookups and kMaxGroupMembers members per
// decision: beyond that an entry matches nobody (it fails closed), so that
// no policy can make one decision expensive.
constexpr std::size_t kMaxAcpIds = 32;
constexpr int kMaxGroupDepth = 4;
constexpr int kMaxGroupLookups = 64;
constexpr std::size_t kMaxGroupMembers = 1024;

// kCseBaseAcp is the resourceID (and name) of the CSEBase's policy.
constexpr std::string_view kCseBaseAcp = "acp-csebase";

std::string random_ri(std::string_view prefix) {
  std::array<std::uint8_t, 8> b{};
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) return {};
  return std::string(prefix) + hex_encode(b);
}

std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    const std::size_t slash = path.find('/', pos);
    out.push_back(path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos));
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  return out;
}

// own_sp_rest returns |id| without its "//<SP-ID>" when that SP-ID is
// |sp_id| (compared as DNS names: without regard to case), |id| itself when
// it is not absolute, and std::nullopt when it names another SP.
std::optional<std::string_view> own_sp_rest(std::string_view id, std::string_view sp_id) {
  if (!id.starts_with("//")) return id;
  id.remove_prefix(2);
  const std::size_t slash = id.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto sp = Fqdn::parse(id.substr(0, slash));
  auto mine = Fqdn::parse(sp_id);
  if (!sp || !mine || !sp->matches(*mine)) return std::nullopt;
  return id.substr(slash);
}

// Found is a resolved target: the record and its attributes.
struct Found {
  ResourceRecord record;
  nlohmann::json attributes;
};

class Handler {
 public:
  Handler(const Settings& s, store::ResourceRepository& repo, const Originator& from, const Request& req,
          std::int64_t now)
      : s_(s), repo_(repo), from_(from), req_(req), now_(now) {}

  Response run();

 private:
  Response refuse(Rsc rsc, std::string_view why) const { return proto::error_response(req_, rsc, why); }
  Response store_failure(const Error& e) const;
  Result<Found> resolve(std::string_view to) const;
  Result<Found> load(std::string_view ri) const;
  Result<Found> by_id(std::string_view id) const;
  std::optional<std::string> relative_ri(std::string_view id) const;
  bool permitted(const Found& target, authz::Operation op, authz::Target which, std::optional<int> created_type);
  std::vector<authz::AccessControlPolicy> policies_of(const Found& governing, bool& dangling) const;
  std::optional<std::vector<std::string>> group_members(std::string_view entry);
  bool expand_group(std::string_view entry, int depth, std::set<std::string>& visited, std::vector<std::string>& out);
  authz::GroupResolver group_resolver() {
    return [this](std::string_view entry) { return group_members(entry); };
  }
  Result<std::vector<std::string>> check_acpi(const nlohmann::json& value) const;
  Result<std::pair<std::string, std::string>> registration_name(const nlohmann::json& made) const;
  Response create(const Found& parent);
  Response update(const Found& target);
  Response write_update(const Found& target, const nlohmann::json& a);
  Response remove(const Found& target);
  nlohmann::json representation(const Found& f) const;

  const Settings& s_;
  store::ResourceRepository& repo_;
  const Originator& from_;
  const Request& req_;
  std::int64_t now_;
  // Group expansions of this request's decisions (TS-0003 7.1: acor by
  // group), memoised, within one budget.
  std::map<std::string, std::optional<std::vector<std::string>>, std::less<>> groups_;
  int group_lookups_ = 0;
};

Response Handler::store_failure(const Error& e) const {
  if (e.code() == Errc::not_found) return refuse(Rsc::not_found, "no such resource");
  if (e.code() == Errc::already_exists) return refuse(Rsc::conflict, "a resource with this name or ID exists");
  return refuse(Rsc::internal_server_error, "store failure");
}

Result<Found> Handler::load(std::string_view ri) const {
  auto r = repo_.get(ri);
  if (!r) return std::unexpected(r.error());
  auto j = nlohmann::json::parse(r->attributes, nullptr, false);
  if (!j.is_object()) return fail(Errc::store_error, "stored attributes are not an object");
  return Found{std::move(*r), std::move(j)};
}

// relative_ri reads a resource ID in the forms TS-0001 7.2 allows for
// this CSE's resources: CSE-relative "<ri>", SP-relative "/<cse>/<ri>"
// and absolute "//<sp>/<cse>/<ri>" (std::nullopt if it names another CSE
// or SP, or a path of more than one segment).
std::optional<std::string> Handler::relative_ri(std::string_view id) const {
  const auto own = own_sp_rest(id, s_.sp_id);
  if (!own) return std::nullopt;
  std::string_view rest = *own;
  if (rest.starts_with('/')) {
    if (!rest.starts_with(s_.cse_id) || rest.size() <= s_.cse_id.size() + 1 || rest[s_.cse_id.size()] != '/') {
      return std::nullopt;
    }
    rest.remove_prefix(s_.cse_id.size() + 1);
  }
  if (rest.empty() || rest.find('/') != std::string_view::npos) return std::nullopt;
  return std::string(rest);
}

// by_id finds a resource named by its ID (any form) or its structured
// address; acpi entries and group IDs use it.
Result<Found> Handler::by_id(std::string_view id) const {
  if (auto ri = relative_ri(id)) {
    if (*ri == s_.csebase) return resolve(*ri);
    return load(*ri);
  }
  return resolve(id);
}

// resolve finds the target of To. TS-0001 7.2 / TS-0009 6: "/<cse-id>"
// and "/<cse-id>/<csebase>" are the CSEBase; "<csebase>/a/b" (with or
// without a leading '/', or after "/<cse-id>/") walks resource names;
// "<ri>" (or "/<cse-id>/<ri>") is one resource by ID, and names may
// follow it.
Result<Found> Handler::resolve(std::string_view to) const {
  const auto own = own_sp_rest(to, s_.sp_id);
  if (!own) return fail(Errc::not_found, "another service provider");
  std::string_view rest = *own;
  if (rest == s_.cse_id) rest = s_.csebase;
  else if (rest.starts_with(s_.cse_id) && rest.size() > s_.cse_id.size() && rest[s_.cse_id.size()] == '/') {
    rest.remove_prefix(s_.cse_id.size() + 1);
  } else if (rest.starts_with('/')) {
    rest.remove_prefix(1);
  }
  if (rest.empty() || rest.size() > 1024) return fail(Errc::not_found, "no such resource");
  const std::vector<std::string_view> seg = split(rest);
  Result<Found> cur = fail(Errc::not_found, "no such resource");
  if (seg[0] == s_.csebase) {
    cur = load(cse_ri(s_));
  } else {
    cur = load(seg[0]);
  }
  for (std::size_t i = 1; cur && i < seg.size(); ++i) {
    if (seg[i].empty()) return fail(Errc::not_found, "empty path segment");
    auto c = repo_.child(cur->record.ri, seg[i]);
    if (!c) return std::unexpected(c.error());
    cur = load(c->ri);
  }
  return cur;
}

// group_members is the GroupResolver of this request's decisions: the
// members of the <group> |entry| names (nested groups flattened, each
// group once), std::nullopt if it names none. Past the budget an entry
// expands to no member.
std::optional<std::vector<std::string>> Handler::group_members(std::string_view entry) {
  if (entry == "all" || entry.find('*') != std::string_view::npos) return std::nullopt;
  if (auto it = groups_.find(entry); it != groups_.end()) return it->second;
  std::set<std::string> visited;
  std::vector<std::string> out;
  std::optional<std::vector<std::string>> result;
  if (expand_group(entry, 0, visited, out)) result = std::move(out);
  groups_.emplace(std::string(entry), result);
  return result;
}

// expand_group appends the members of the group |entry| names to |out| and
// returns true, or returns false if it names no group. A group met again
// (a cycle, or one listed twice) adds nothing.
bool Handler::expand_group(std::string_view entry, int depth, std::set<std::string>& visited,
                           std::vector<std::string>& out) {
  if (++group_lookups_ > kMaxGroupLookups || depth > kMaxGroupDepth) {
    out.clear();
    return true;  // over budget: matches nobody
  }
  auto g = by_id(entry);
  if (!g || g->record.ty != kGroup) return false;
  if (!visited.insert(g->record.ri).second) return true;
  const auto mid = g->attributes.find("mid");
  if (mid == g->attributes.end() || !mid->is_array()) return true;
  for (const auto& m : *mid) {
    if (!m.is_string() || out.size() >= kMaxGroupMembers) continue;
    const std::string& id = m.get_ref<const std::string&>();
    if (group_lookups_ >= kMaxGroupLookups) {
      out.clear();
      return true;
    }
    if (!expand_group(id, depth + 1, visited, out)) out.push_back(id);  // a member, not a group
  }
  return true;
}

// policies_of reads the <accessControlPolicy> resources the governing
// resource's accessControlPolicyIDs name. |dangling| is set when it names
// some but none can be read: the decision must then deny, never fall back
// to the default policy.
std::vector<authz::AccessControlPolicy> Handler::policies_of(const Found& governing, bool& dangling) const {
  std::vector<authz::AccessControlPolicy> out;
  dangling = false;
  const auto acpi = governing.attributes.find("acpi");
  if (acpi == governing.attributes.end() || !acpi->is_array() || acpi->empty()) return out;
  for (const auto& id : *acpi) {
    if (!id.is_string()) continue;
    auto acp = by_id(id.get<std::string>());
    if (!acp || acp->record.ty != kAccessControlPolicy) continue;
    auto parsed = authz::parse_acp(nlohmann::json{{"m2m:acp", acp->attributes}});
    if (!parsed) continue;
    parsed->id = acp->record.ri;
    out.push_back(std::move(*parsed));
  }
  if (out.empty()) dangling = true;
  return out;
}

// permitted is TS-0003 7.1: the privileges (|which| = resource) or the
// selfPrivileges (|which| = policy: updating accessControlPolicyIDs) of
// the ACPs that govern |target|, or its own selfPrivileges when |target|
// is an <accessControlPolicy>; when nothing names any ACP, the default
// policy: only the creator.
bool Handler::permitted(const Found& target, authz::Operation op, authz::Target which,
                        std::optional<int> created_type) {
  authz::Request rq;
  rq.originator = from_.id;
  rq.operation = op;
  rq.time = now_;
  rq.ip = from_.ip;
  rq.authenticated = from_.authenticated;
  rq.created_type = created_type;
  rq.cse_id = s_.cse_id;
  rq.sp_id = s_.sp_id;
  rq.target_type = target.record.ty;
  const authz::GroupResolver groups = group_resolver();
  std::vector<authz::AccessControlPolicy> acps;
  std::optional<std::string> owner;
  if (target.record.ty == kAccessControlPolicy && which == authz::Target::policy) {
    auto self = authz::parse_acp(nlohmann::json{{"m2m:acp", target.attributes}});
    if (!self) return false;
    self->id = target.record.ri;
    acps.push_back(std::move(*self));
  } else {
    // TS-0001 9.6.1.3.2: a resource without the accessControlPolicyIDs
    // attribute (contentInstance) is governed by its parent's.
    Found governing = target;
    if (!has_acpi_attribute(target.record.ty)) {
      auto parent = load(target.record.pi);
      if (!parent) return false;
      governing = std::move(*parent);
    }
    bool dangling = false;
    acps = policies_of(governing, dangling);
    if (dangling) return false;
    if (auto cr = governing.attributes.find("cr"); cr != governing.attributes.end() && cr->is_string()) {
      owner = cr->get<std::string>();
    }
  }
  const authz::Verdict v = authz::evaluate(rq, acps, which, groups, owner);
  return v.decision == authz::Decision::permit;
}

// check_acpi reads an accessControlPolicyIDs value: a list of IDs, each
// naming an <accessControlPolicy> of this CSE (TS-0004: 4000 otherwise),
// and returns them as SP-relative resource IDs ("/in-cse/acp…").
Result<std::vector<std::string>> Handler::check_acpi(const nlohmann::json& value) const {
  if (!value.is_array() || value.size() > kMaxAcpIds) {
    return fail(Errc::malformed_message, "acpi must be a list of at most 32 IDs");
  }
  std::vector<std::string> out;
  for (const auto& id : value) {
    if (!id.is_string() || id.get_ref<const std::string&>().empty()) {
      return fail(Errc::malformed_message, "acpi must hold resource IDs");
    }
    auto acp = by_id(id.get<std::string>());
    if (!acp || acp->record.ty != kAccessControlPolicy) {
      return fail(Errc::invalid_argument, "acpi names no accessControlPolicy of this CSE");
    }
    // Kept as the policy's SP-relative resource ID, never as the path it
    // was named by: a policy made later at that path must not inherit it.
    out.push_back(s_.cse_id + "/" + acp->record.ri);
  }
  return out;
}

nlohmann::json Handler::representation(const Found& f) const {
  if (f.record.ty == kCseBase) {
    nlohmann::json cb = cse_base_representation(s_, f.record.created_at);
    if (auto acpi = f.attributes.find("acpi"); acpi != f.attributes.end()) cb["m2m:cb"]["acpi"] = *acpi;
    return cb;
  }
  nlohmann::json a = f.attributes;
  if (f.record.ty == kContainer) {
    // currentNrOfInstances is counted, never stored, so that concurrent
    // CREATEs cannot lose an update to it.
    auto n = repo_.count_children(f.record.ri, kContentInstance);
    a["cni"] = n ? *n : 0;
  }
  return nlohmann::json{{std::string(type_wrapper(f.record.ty)), std::move(a)}};
}

// target_id turns the HTTP request-target into a oneM2M ID (TS-0009 6.2):
// "/~/<SP-relative ID without its '/'>" and "/_/<absolute ID without its
// '//'>" are the binding's forms; a bare path keeps the forms resolve()
// reads. A query (filter criteria, result content) is not served:
// std::nullopt.
static std::optional<std::string> target_id(std::string_view to) {
  if (to.find('?') != std::string_view::npos) return std::nullopt;
  if (to.starts_with("/~/")) return "/" + std::string(to.substr(3));
  if (to.starts_with("/_/")) return "//" + std::string(to.substr(3));
  return std::string(to);
}

Response Handler::run() {
  if (from_.id.empty()) return refuse(Rsc::security_association_required, "no authenticated identity");
  const auto to = target_id(req_.to);
  if (!to) return refuse(Rsc::not_implemented, "query parameters (filter criteria, rcn) are not supported");
  auto target = resolve(*to);
  if (!target) {
    if (target.error().code() == Errc::not_found) return refuse(Rsc::not_found, "no such resource");
    return store_failure(target.error());
  }
  switch (req_.op) {
    case Operation::create:
      return create(*target);
    case Operation::retrieve:
      if (!permitted(*target, authz::retrieve, target_of(target->record.ty), std::nullopt)) {
        return refuse(Rsc::originator_has_no_privilege, "access denied");
      }
      return proto::ok_response(req_, Rsc::ok, representation(*target));
    case Operation::update:
      return update(*target);
    case Operation::del:
      return remove(*target);
    case Operation::notify:
    default:
      return refuse(Rsc::operation_not_allowed, "operation not supported");
  }
}

// registration_name is the resourceID and resourceName of the AE the
// originator registers (TS-0001 7.2, 10.2.2.2):
//   - an AE-ID of this CSE (C-type) or this SP (S-type): the resourceID is
//     its AE-ID-Stem, and so is the name (a different rn is refused, so
//     that no AE can take the name another AE-ID's AE will be found by);
//   - an AE-ID of another CSE or SP: refused (Errc::invalid_identifier);
//   - a CSE-ID (an AE behind a device CSE): the name given, or the
//     CSE-ID's last segment, which must not begin with 'C' or 'S' (the
//     names of AE-ID-Stems); the resourceID is "ae-<name>" (unique as the
//     name is among the CSEBase's children; no stem or generated ID has
//     that form).
Result<std::pair<std::string, std::string>> Handler::registration_name(const nlohmann::json& made) const {
  const std::string given = made.contains("rn") ? made["rn"].get<std::string>() : "";
  auto stem = ae_stem_here(from_.id, s_);
  if (!stem) return fail(Errc::invalid_identifier, "an AE-ID of another CSE or SP registers there");
  if (!stem->empty()) {
    if (!given.empty() && given != *stem) {
      return fail(Errc::malformed_message, "an AE-ID's AE is named by its AE-ID-Stem " + *stem);
    }
    return std::pair{*stem, *stem};
  }
  const std::string name = given.empty() ? from_.id.substr(from_.id.rfind('/') + 1) : given;
  if (name.empty() || name[0] == 'C' || name[0] == 'S') {
    return fail(Errc::malformed_message, "names beginning with C or S are the AE-ID-Stems'; give another rn");
  }
  return std::pair{"ae-" + name, name};
}

Response Handler::create(const Found& parent) {
  if (req_.ty <= 0) return refuse(Rsc::bad_request, "CREATE needs a resource type (Content-Type ty=)");
  if (!is_served_type(req_.ty)) return refuse(Rsc::not_implemented, "resource type not supported");
  if (!may_be_child(parent.record.ty, req_.ty)) {
    return refuse(Rsc::invalid_child_resource_type, "this resource type cannot be created here");
  }
  // TS-0001 10.2.2.2: AE registration. The registrar admits every
  // authenticated entity (docs/cse.md); the AE is bound to it.
  if (req_.ty == kAe) {
    if (!from_.authenticated) return refuse(Rsc::originator_has_no_privilege, "AE registration needs a security association");
  } else if (!permitted(parent, authz::create, authz::Target::resource, req_.ty)) {
    return refuse(Rsc::originator_has_no_privilege, "access denied");
  }
  auto made = make_resource(req_.ty, req_.content, from_.id, now_);
  if (!made) {
    const Rsc rsc = made.error().code() == Errc::invalid_length ? Rsc::contents_unacceptable : Rsc::bad_request;
    return refuse(rsc, made.error().detail());
  }
  if (made->contains("acpi")) {
    auto acpi = check_acpi(made->at("acpi"));
    if (!acpi) return refuse(Rsc::bad_request, acpi.error().detail());
    (*made)["acpi"] = *acpi;
  }
  std::string ri;
  if (req_.ty == kAe) {
    auto named = registration_name(*made);
    if (!named) {
      return refuse(named.error().code() == Errc::invalid_identifier ? Rsc::originator_has_no_privilege
                                                                     : Rsc::bad_request,
                    named.error().detail());
    }
    ri = named->first;
    (*made)["rn"] = named->second;
  }
  if (ri.empty()) ri = random_ri(type_prefix(req_.ty));
  if (ri.empty()) return refuse(Rsc::internal_server_error, "no randomness");
  auto& a = *made;
  if (!a.contains("rn")) a["rn"] = ri;
  const std::string rn = a["rn"].get<std::string>();
  if (rn == s_.csebase && parent.record.ty == kCseBase) return refuse(Rsc::conflict, "a resource with this name exists");
  a["ri"] = ri;
  a["pi"] = parent.record.ri;
  auto n = repo_.count_children(parent.record.ri, 0);
  if (!n) return store_failure(n.error());
  if (*n >= s_.max_children) return refuse(Rsc::not_implemented, "too many child resources");
  const std::string text = a.dump();
  if (text.size() > s_.max_attributes) return refuse(Rsc::contents_unacceptable, "resource too large");
  ResourceRecord rec{ri, parent.record.ri, rn, req_.ty, text, now_};
  if (Status st = repo_.create(rec); !st) {
    if (st.error().code() == Errc::already_exists) {
      return refuse(Rsc::conflict, req_.ty == kAe ? "this AE is registered already, or the name is taken"
                                                  : "a resource with this name exists");
    }
    return store_failure(st.error());
  }
  // A container keeps at most maxNrOfInstances contentInstances: the
  // oldest go (TS-0001 9.6.7).
  if (req_.ty == kContentInstance) {
    if (auto mni = parent.attributes.find("mni"); mni != parent.attributes.end() && mni->is_number_integer()) {
      const auto max = mni->get<std::int64_t>();
      for (int guard = 0; guard < 16; ++guard) {
        auto count = repo_.count_children(parent.record.ri, kContentInstance);
        if (!count || static_cast<std::int64_t>(*count) <= max) break;
        if (!repo_.remove_oldest_child(parent.record.ri, kContentInstance)) break;
      }
    }
  }
  return proto::ok_response(req_, Rsc::created, representation(Found{rec, a}));
}

Response Handler::update(const Found& target) {
  if (!is_updatable(target.record.ty)) return refuse(Rsc::operation_not_allowed, "this resource cannot be updated");
  const std::string wrapper(type_wrapper(target.record.ty));
  if (!req_.content.is_object() || req_.content.size() != 1 || !req_.content.contains(wrapper) ||
      !req_.content[wrapper].is_object()) {
    return refuse(Rsc::bad_request, "UPDATE content must be {\"" + wrapper + "\": {...}}");
  }
  const nlohmann::json& changes = req_.content[wrapper];
  // TS-0001 9.6.2.3 / TS-0003 7.1: accessControlPolicyIDs is updated on
  // its own, and only by an originator the selfPrivileges of the ACPs it
  // currently names grant UPDATE (the default policy: its creator).
  if (changes.contains("acpi")) {
    if (changes.size() != 1) return refuse(Rsc::bad_request, "acpi must be updated alone");
    if (!has_acpi_attribute(target.record.ty)) return refuse(Rsc::bad_request, "this resource has no acpi");
    // Decided on the selfPrivileges of the ACPs named now.
    if (!permitted(target, authz::update, authz::Target::policy, std::nullopt)) {
      return refuse(Rsc::originator_has_no_privilege, "access denied");
    }
    nlohmann::json a = target.attributes;
    if (changes["acpi"].is_null()) {
      a.erase("acpi");
    } else {
      auto acpi = check_acpi(changes["acpi"]);
      if (!acpi) return refuse(Rsc::bad_request, acpi.error().detail());
      a["acpi"] = *acpi;
    }
    a["lt"] = proto::format_time(now_);
    return write_update(target, a);
  }
  if (!permitted(target, authz::update, target_of(target.record.ty), std::nullopt)) {
    return refuse(Rsc::originator_has_no_privilege, "access denied");
  }
  auto a = apply_update(target.record.ty, target.attributes, changes, now_);
  if (!a) return refuse(Rsc::bad_request, a.error().detail());
  return write_update(target, *a);
}

// write_update stores |a| as |target|'s attributes if nobody changed them
// since they were read for the decision (else 4105: the decision may
// rest on an accessControlPolicyIDs that is no longer there).
Response Handler::write_update(const Found& target, const nlohmann::json& a) {
  const std::string text = a.dump();
  if (text.size() > s_.max_attributes) return refuse(Rsc::contents_unacceptable, "resource too large");
  auto replaced = repo_.replace(target.record.ri, target.record.attributes, text);
  if (!replaced) return store_failure(replaced.error());
  if (!*replaced) return refuse(Rsc::conflict, "the resource changed meanwhile; retry");
  ResourceRecord rec = target.record;
  rec.attributes = text;
  return proto::ok_response(req_, Rsc::updated, representation(Found{std::move(rec), a}));
}

Response Handler::remove(const Found& target) {
  if (target.record.ty == kCseBase) return refuse(Rsc::operation_not_allowed, "the CSEBase cannot be deleted");
  if (!permitted(target, authz::del, target_of(target.record.ty), std::nullopt)) {
    return refuse(Rsc::originator_has_no_privilege, "access denied");
  }
  auto n = repo_.remove(target.record.ri);
  if (!n) return store_failure(n.error());
  return proto::ok_response(req_, Rsc::deleted, nullptr);
}

}  // namespace

Result<std::unique_ptr<Cse>> Cse::open(Settings settings, store::ResourceRepository& repo, std::int64_t now) {
  if (settings.cse_id.size() < 2 || settings.cse_id[0] != '/' || settings.cse_id.find('/', 1) != std::string::npos) {
    return fail(Errc::invalid_argument, "cse_id must be an SP-relative CSE-ID such as /in-cse");
  }
  if (settings.csebase.empty()) return fail(Errc::invalid_argument, "the CSEBase needs a resource name");
  const std::string ri = cse_ri(settings);
  const std::string acp_ri = std::string(kCseBaseAcp);
  if (auto base = repo.get(ri); !base) {
    if (base.error().code() != Errc::not_found) return std::unexpected(base.error());
    // The CSEBase is governed by an <accessControlPolicy> the hosting CSE
    // creates with it (docs/cse.md): every authenticated originator may
    // retrieve and discover it; only the hosting CSE may change the policy.
    ResourceRecord rec{ri, "", settings.csebase, kCseBase,
                       nlohmann::json{{"acpi", {settings.cse_id + "/" + acp_ri}}}.dump(), now};
    if (Status st = repo.create(rec); !st) {
      if (st.error().code() != Errc::already_exists) return std::unexpected(st.error());
      // Another root: the store holds another CSE's tree (cse_id changed).
      if (!repo.get(ri)) {
        return fail(Errc::invalid_argument, "the store holds the resource tree of a CSE other than " + settings.cse_id);
      }
    }
  } else if (base->ty != kCseBase || base->rn != settings.csebase) {
    return fail(Errc::invalid_argument, "the store's CSEBase is not named " + settings.csebase);
  }
  // Made in a second write: if a crash came between the two, it is made now.
  if (auto have = repo.get(acp_ri); !have) {
    if (have.error().code() != Errc::not_found) return std::unexpected(have.error());
    const nlohmann::json acp = {
        {"rn", acp_ri},
        {"ri", acp_ri},
        {"pi", ri},
        {"ty", kAccessControlPolicy},
        {"ct", proto::format_time(now)},
        {"lt", proto::format_time(now)},
        {"cr", settings.cse_id},
        {"pv", {{"acr", {{{"acor", {"all"}}, {"acop", authz::retrieve | authz::discovery}, {"acaf", true}}}}}},
        {"pvs", {{"acr", {{{"acor", {settings.cse_id}}, {"acop", authz::kAllOperations}}}}}}};
    ResourceRecord arec{acp_ri, ri, acp_ri, kAccessControlPolicy, acp.dump(), now};
    if (Status st = repo.create(arec); !st && st.error().code() != Errc::already_exists) {
      return std::unexpected(st.error());
    }
  }
  return std::unique_ptr<Cse>(new Cse(std::move(settings), repo));
}

proto::Response Cse::handle(const Originator& from, const proto::Request& req, std::int64_t now) {
  try {
    return Handler(settings_, repo_, from, req, now).run();
  } catch (const std::exception&) {
    return proto::error_response(req, Rsc::internal_server_error, "request failed");
  }
}

std::optional<std::string> ae_id_stem(std::string_view ae_id) {
  auto id = EntityId::parse(ae_id);
  if (!id) return std::nullopt;
  const std::string& s = id->str();
  const std::size_t slash = s.rfind('/');
  std::string stem = slash == std::string::npos ? s : s.substr(slash + 1);
  if (stem.empty()) return std::nullopt;
  // "/Sxyz" and "//sp/Sxyz" (one segment after the SP) are S-AE-IDs.
  if (id->kind() != EntityKind::ae && stem[0] != 'S') return std::nullopt;
  return stem;
}

std::optional<std::string> ae_stem_here(std::string_view id, const Settings& s) {
  auto stem = ae_id_stem(id);
  if (!stem) return std::string();  // a CSE-ID
  const auto own = own_sp_rest(id, s.sp_id);
  if (!own) return std::nullopt;
  const std::string_view rest = *own;
  if (!rest.starts_with('/')) return stem;  // CSE-relative: "Cxyz" or "Sxyz"
  if ((*stem)[0] == 'S' && rest == "/" + *stem) return stem;  // SP-relative S-AE-ID
  if (rest == s.cse_id + "/" + *stem) return stem;            // "/<this cse>/Cxyz"
  return std::nullopt;
}

}  // namespace m2msec::cse
