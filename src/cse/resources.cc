#include "resources.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "m2msec/proto/primitive.h"

namespace m2msec::cse {
namespace {

constexpr std::size_t kMaxName = 64;
constexpr std::size_t kMaxLabels = 32;
constexpr std::size_t kMaxString = 256;
constexpr std::size_t kMaxMembers = 256;
constexpr std::size_t kMaxContent = 32 * 1024;
constexpr std::int64_t kMaxStateTag = std::int64_t{1} << 53;  // exact in any JSON reader

// valid_resource_name: RFC 3986 unreserved characters only, so that a
// name is one path segment and safe in any log or JSON text; "la" and
// "ol" are the virtual children of a container (TS-0001 9.6.7); "." and
// ".." would be removed from a path by HTTP clients and proxies.
bool valid_resource_name(std::string_view rn) {
  if (rn.empty() || rn.size() > kMaxName || rn == "la" || rn == "ol" || rn == "." || rn == "..") return false;
  return std::all_of(rn.begin(), rn.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == '~';
  });
}

// Reader checks one attribute object against what a type accepts.
class Reader {
 public:
  explicit Reader(const nlohmann::json& obj) : obj_(obj) {}

  // present: the attribute is given and not null (null means "absent").
  bool present(const char* k) const {
    auto it = obj_.find(k);
    return it != obj_.end() && !it->is_null();
  }
  const nlohmann::json& at(const char* k) const { return obj_.at(k); }

  Status string(const char* k, std::size_t max, nlohmann::json& out) const {
    if (!present(k)) return {};
    const auto& v = at(k);
    if (!v.is_string()) return fail(Errc::malformed_message, std::string(k) + " must be a string");
    if (v.get_ref<const std::string&>().size() > max) return fail(Errc::invalid_argument, std::string(k) + " is too long");
    out[k] = v;
    return {};
  }
  Status strings(const char* k, std::size_t max_items, nlohmann::json& out) const {
    if (!present(k)) return {};
    const auto& v = at(k);
    if (!v.is_array() || v.size() > max_items) {
      return fail(Errc::malformed_message, std::string(k) + " must be a list of at most " + std::to_string(max_items));
    }
    for (const auto& e : v) {
      if (!e.is_string() || e.get_ref<const std::string&>().empty() || e.get_ref<const std::string&>().size() > kMaxString) {
        return fail(Errc::malformed_message, std::string(k) + " must hold non-empty strings");
      }
    }
    out[k] = v;
    return {};
  }
  Status integer(const char* k, std::int64_t min, std::int64_t max, nlohmann::json& out) const {
    if (!present(k)) return {};
    const auto& v = at(k);
    if (!v.is_number_integer()) return fail(Errc::malformed_message, std::string(k) + " must be an integer");
    // Read as 64-bit signed before any range check: a huge unsigned value
    // must not wrap into range.
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
      return fail(Errc::invalid_argument, std::string(k) + " is out of range");
    }
    const auto n = v.get<std::int64_t>();
    if (n < min || n > max) return fail(Errc::invalid_argument, std::string(k) + " is out of range");
    out[k] = n;
    return {};
  }
  Status boolean(const char* k, nlohmann::json& out) const {
    if (!present(k)) return {};
    if (!at(k).is_boolean()) return fail(Errc::malformed_message, std::string(k) + " must be true or false");
    out[k] = at(k);
    return {};
  }

 private:
  const nlohmann::json& obj_;
};

// AttributeKeys are the attributes an originator may give for one type.
struct AttributeKeys {
  int ty;
  std::set<std::string> create;
  std::set<std::string> update;  // acpi is updated by its own rule
};

// attribute_keys: what CREATE (|for_update| false) or UPDATE may carry.
const std::set<std::string>& attribute_keys(int ty, bool for_update) {
  static const std::vector<AttributeKeys> table = {
      {kAe, {"rn", "lbl", "acpi", "api", "apn", "rr", "poa", "srv"}, {"lbl", "apn", "rr", "poa", "srv"}},
      {kContainer, {"rn", "lbl", "acpi", "mni"}, {"lbl", "mni"}},
      {kContentInstance, {"rn", "lbl", "cnf", "con"}, {}},
      {kAccessControlPolicy, {"rn", "lbl", "pv", "pvs"}, {"lbl", "pv", "pvs"}},
      {kGroup, {"rn", "lbl", "acpi", "mt", "mid", "mnm", "gn"}, {"lbl", "mid", "mnm", "gn"}},
  };
  static const std::set<std::string> none;
  for (const AttributeKeys& k : table) {
    if (k.ty == ty) return for_update ? k.update : k.create;
  }
  return none;
}

// read_attributes copies the attributes of |in| that |keys| allows into
// |out|, checking each.
Status read_attributes(int ty, const nlohmann::json& in, const std::set<std::string>& keys, nlohmann::json& out) {
  for (const auto& [k, v] : in.items()) {
    if (!keys.count(k)) return fail(Errc::malformed_message, "attribute " + std::string(k.size() <= 8 ? k : "") +
                                                                 " cannot be given for this resource type");
  }
  Reader r(in);
  Status st;
  auto run = [&st](Status s) {
    if (st && !s) st = s;
  };
  if (r.present("rn")) {
    if (!r.at("rn").is_string() || !valid_resource_name(r.at("rn").get_ref<const std::string&>())) {
      return fail(Errc::malformed_message, "rn must be 1..64 characters of [A-Za-z0-9._~-], not la or ol");
    }
    out["rn"] = r.at("rn");
  }
  run(r.strings("lbl", kMaxLabels, out));
  if (r.present("acpi")) out["acpi"] = r.at("acpi");  // checked by the CSE against its ACPs
  switch (ty) {
    case kAe:
      run(r.string("api", kMaxString, out));
      run(r.string("apn", kMaxString, out));
      run(r.boolean("rr", out));
      run(r.strings("poa", 8, out));
      run(r.strings("srv", 8, out));
      break;
    case kContainer:
      run(r.integer("mni", 0, 1000000, out));
      break;
    case kContentInstance:
      run(r.string("cnf", kMaxString, out));
      if (r.present("con")) {
        const auto& con = r.at("con");
        const std::size_t size = con.is_string() ? con.get_ref<const std::string&>().size() : con.dump().size();
        if (size > kMaxContent) return fail(Errc::invalid_length, "con is larger than 32 KiB");
        out["con"] = con;
        out["cs"] = size;
      }
      break;
    case kAccessControlPolicy:
      if (r.present("pv")) out["pv"] = r.at("pv");
      if (r.present("pvs")) out["pvs"] = r.at("pvs");
      break;
    case kGroup:
      run(r.integer("mt", 0, 64, out));
      run(r.strings("mid", kMaxMembers, out));
      run(r.integer("mnm", 1, static_cast<std::int64_t>(kMaxMembers), out));
      run(r.string("gn", kMaxString, out));
      break;
    default:
      break;
  }
  return st;
}

// check_type_rules applies what a complete resource of |ty| must satisfy.
Status check_type_rules(int ty, nlohmann::json& a) {
  if (ty == kAccessControlPolicy) {
    // TS-0001 9.6.2: privileges and selfPrivileges are mandatory; each
    // rule must parse (authz fails closed on what it cannot evaluate, but
    // a malformed rule is refused at the door).
    auto acp = authz::parse_acp(nlohmann::json{{"m2m:acp", a}});
    if (!acp) return fail(acp.error().code() == Errc::invalid_argument ? Errc::invalid_argument : Errc::malformed_message,
                          acp.error().detail());
  }
  if (ty == kGroup) {
    if (!a.contains("mid")) return fail(Errc::malformed_message, "a group needs mid");
    // Members are kept once each (TS-0001 10.2.7.1: duplicates removed).
    std::vector<std::string> mid;
    for (const auto& m : a["mid"]) {
      const auto s = m.get<std::string>();
      if (std::find(mid.begin(), mid.end(), s) == mid.end()) mid.push_back(s);
    }
    a["mid"] = mid;
    const std::int64_t mnm = a.contains("mnm") ? a["mnm"].get<std::int64_t>() : static_cast<std::int64_t>(kMaxMembers);
    if (static_cast<std::int64_t>(mid.size()) > mnm) return fail(Errc::invalid_argument, "more members than mnm");
    a["mnm"] = mnm;
    a["cnm"] = mid.size();
    if (!a.contains("mt")) a["mt"] = 0;  // mixed
  }
  return {};
}

}  // namespace

std::string cse_ri(const Settings& s) { return s.cse_id.substr(1); }

bool is_served_type(int ty) {
  return ty == kAccessControlPolicy || ty == kAe || ty == kContainer || ty == kContentInstance || ty == kGroup;
}

bool may_be_child(int parent_ty, int child_ty) {
  switch (parent_ty) {
    case kCseBase:
      return child_ty == kAe || child_ty == kContainer || child_ty == kAccessControlPolicy || child_ty == kGroup;
    case kAe:
      return child_ty == kContainer || child_ty == kAccessControlPolicy || child_ty == kGroup;
    case kContainer:
      return child_ty == kContainer || child_ty == kContentInstance;
    default:
      return false;
  }
}

bool has_acpi_attribute(int ty) { return ty == kCseBase || ty == kAe || ty == kContainer || ty == kGroup; }

bool is_updatable(int ty) { return ty == kAe || ty == kContainer || ty == kAccessControlPolicy || ty == kGroup; }

authz::Target target_of(int ty) { return ty == kAccessControlPolicy ? authz::Target::policy : authz::Target::resource; }

std::string_view type_wrapper(int ty) {
  switch (ty) {
    case kAccessControlPolicy:
      return "m2m:acp";
    case kAe:
      return "m2m:ae";
    case kContainer:
      return "m2m:cnt";
    case kContentInstance:
      return "m2m:cin";
    case kCseBase:
      return "m2m:cb";
    case kGroup:
      return "m2m:grp";
    default:
      return "m2m:unknown";
  }
}

std::string_view type_prefix(int ty) {
  switch (ty) {
    case kAccessControlPolicy:
      return "acp";
    case kAe:
      return "ae";
    case kContainer:
      return "cnt";
    case kContentInstance:
      return "cin";
    case kGroup:
      return "grp";
    default:
      return "r";
  }
}

Result<nlohmann::json> make_resource(int ty, const nlohmann::json& content, const std::string& creator,
                                     std::int64_t now) {
  const std::string wrapper(type_wrapper(ty));
  if (!content.is_object() || content.size() != 1 || !content.contains(wrapper) || !content[wrapper].is_object()) {
    return fail(Errc::malformed_message, "CREATE content must be {\"" + wrapper + "\": {...}} for ty=" + std::to_string(ty));
  }
  nlohmann::json a = nlohmann::json::object();
  if (Status st = read_attributes(ty, content[wrapper], attribute_keys(ty, false), a); !st) return std::unexpected(st.error());
  if (Status st = check_type_rules(ty, a); !st) return std::unexpected(st.error());
  a["ty"] = ty;
  a["ct"] = proto::format_time(now);
  a["lt"] = a["ct"];
  a["cr"] = creator;
  if (ty == kAe) {
    a["aei"] = creator;
    if (!a.contains("api")) a["api"] = "Nm2msec";
    if (!a.contains("rr")) a["rr"] = false;
  }
  if (ty == kContainer || ty == kContentInstance) a["st"] = 0;
  if (ty == kContentInstance && !a.contains("con")) return fail(Errc::malformed_message, "a contentInstance needs con");
  return a;
}

Result<nlohmann::json> apply_update(int ty, const nlohmann::json& current, const nlohmann::json& changes,
                                    std::int64_t now) {
  nlohmann::json given = nlohmann::json::object();
  if (Status st = read_attributes(ty, changes, attribute_keys(ty, true), given); !st) return std::unexpected(st.error());
  nlohmann::json a = current;
  for (const auto& [k, v] : changes.items()) {
    if (v.is_null()) a.erase(k);  // a null removes an optional attribute
  }
  for (const auto& [k, v] : given.items()) a[k] = v;
  if (ty == kGroup) {
    a.erase("cnm");
  }
  if (Status st = check_type_rules(ty, a); !st) return std::unexpected(st.error());
  a["lt"] = proto::format_time(now);
  // stateTag counts the container's changes; a stored value that is not
  // a count starts it again rather than throw.
  if (ty == kContainer) {
    std::int64_t n = 0;
    if (const auto st = a.find("st"); st != a.end() && st->is_number_unsigned()) {
      n = static_cast<std::int64_t>(std::min<std::uint64_t>(st->get<std::uint64_t>(), kMaxStateTag));
    } else if (st != a.end() && st->is_number_integer()) {
      n = std::clamp<std::int64_t>(st->get<std::int64_t>(), 0, kMaxStateTag);
    }
    a["st"] = n + 1;
  }
  return a;
}

nlohmann::json cse_base_representation(const Settings& s, std::int64_t created_at) {
  return nlohmann::json{{"m2m:cb",
                         {{"rn", s.csebase},
                          {"ri", cse_ri(s)},
                          {"ty", kCseBase},
                          {"csi", s.cse_id},
                          {"cst", 1},
                          {"srt", {kAccessControlPolicy, kAe, kContainer, kContentInstance, kCseBase, kGroup}},
                          {"ct", proto::format_time(created_at)},
                          {"poa", s.poa}}}};
}

}  // namespace m2msec::cse
