#include "m2msec/proto/messages.h"

#include <limits>

#include "m2msec/core/encoding.h"
#include "m2msec/proto/json_reader.h"
#include "m2msec/proto/primitive.h"

namespace m2msec::proto {

Status check_holder_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return fail(Errc::invalid_argument, "holder must be 1..64 characters");
  for (char c : id) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
    if (!ok) return fail(Errc::invalid_argument, "holder may hold only letters, digits, '-' and '_'");
  }
  return {};
}

Result<KeyPath> parse_key_path(std::string_view rest) {
  KeyPath out;
  std::string_view rel = rest;
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    rel = rest.substr(0, q);
    const std::string_view query = rest.substr(q);
    if (!query.starts_with(kHolderQuery)) return fail(Errc::invalid_argument, "the only query is holder=<id>");
    out.holder = std::string(query.substr(kHolderQuery.size()));
    if (Status st = check_holder_id(out.holder); !st) return std::unexpected(st.error());
  }
  auto decoded = percent_decode(rel);
  if (!decoded) return std::unexpected(decoded.error());
  out.relative = std::move(*decoded);
  return out;
}

}  // namespace m2msec::proto

namespace m2msec::proto {
namespace {

using json = nlohmann::json;
using Reader = JsonReader;

std::string key_b64(const SecretBytes& k) { return base64_encode(k.view()); }

}  // namespace

json EnrolRequest::to_json() const {
  json o = {{"cei", certificate_enrolment}, {"mei", maf_enrolment}, {"rmi", remote_management}};
  if (!maf_id.empty()) o["idm"] = maf_id;
  return {{"sec:enr", o}};
}

Result<EnrolRequest> EnrolRequest::from_json(const json& j) {
  Reader r(j, "sec:enr");
  EnrolRequest m;
  m.certificate_enrolment = r.boolean("cei", false);
  m.maf_enrolment = r.boolean("mei", true);
  m.remote_management = r.boolean("rmi", false);
  m.maf_id = r.str("idm", false);
  if (!r.ok()) return std::unexpected(r.error());
  return m;
}

json EnrolResponse::to_json() const {
  json ins = json::array();
  for (const EnrolInstruction& i : instructions) {
    json o = {{"typ", i.kind == EnrolInstruction::Kind::maf ? "maf" : "kpsa"},
              {"tgt", i.target},
              {"kid", i.key_id}};
    if (i.lifetime != 0) o["lt"] = format_time(i.lifetime);
    if (i.kind == EnrolInstruction::Kind::maf) {
      o["ctp"] = i.credential_type;
      o["cru"] = i.client_reg_uri;
      o["kru"] = i.key_reg_uri;
      o["kri"] = i.key_retrieval_uri;
    }
    ins.push_back(std::move(o));
  }
  json o = {{"ide", enrolee_id}, {"kei", ke_id}, {"ins", ins}};
  if (expiry != 0) o["exp"] = format_time(expiry);
  if (!sp_domain.empty()) o["spd"] = sp_domain;
  return {{"sec:enr", o}};
}

Result<EnrolResponse> EnrolResponse::from_json(const json& j) {
  Reader r(j, "sec:enr");
  EnrolResponse m;
  m.enrolee_id = r.str("ide");
  m.ke_id = r.str("kei");
  m.expiry = r.time("exp", false);
  m.sp_domain = r.str("spd", false);
  const json* ins = r.raw("ins");
  if (r.ok() && (ins == nullptr || !ins->is_array())) r.bad("ins", "is not an array");
  if (!r.ok()) return std::unexpected(r.error());
  for (const json& e : *ins) {
    const json wrapped = {{"sec:ins", e}};  // Reader borrows; keep it alive
    Reader ir(wrapped, "sec:ins");
    EnrolInstruction i;
    const std::string typ = ir.str("typ");
    if (typ == "maf") {
      i.kind = EnrolInstruction::Kind::maf;
      i.credential_type = ir.str("ctp");
      i.client_reg_uri = ir.str("cru");
      i.key_reg_uri = ir.str("kru");
      i.key_retrieval_uri = ir.str("kri");
    } else if (typ == "kpsa") {
      i.kind = EnrolInstruction::Kind::kpsa;
    } else if (ir.ok()) {
      ir.bad("typ", "is neither maf nor kpsa");
    }
    i.target = ir.str("tgt");
    i.key_id = ir.str("kid");
    i.lifetime = ir.time("lt", false);
    if (!ir.ok()) return std::unexpected(ir.error());
    m.instructions.push_back(std::move(i));
  }
  return m;
}

json CredentialResponse::to_json() const {
  json o = {{"sts", true}, {"kv", key_b64(key)}, {"ide", enrolee_id}, {"kid", key_id}};
  if (lifetime != 0) o["lt"] = format_time(lifetime);
  return {{"sec:crd", o}};
}

Result<CredentialResponse> CredentialResponse::from_json(const json& j) {
  Reader r(j, "sec:crd");
  CredentialResponse m;
  if (!r.boolean("sts", false)) r.bad("sts", "is not true");
  m.key = r.key("kv");
  m.enrolee_id = r.str("ide");
  m.key_id = r.str("kid");
  m.lifetime = r.time("lt", false);
  if (!r.ok()) return std::unexpected(r.error());
  return m;
}

json CredentialFetchBatch::to_json() const {
  json list = json::array();
  for (const Entry& e : entries) {
    json o = {{"kid", e.ke_id}};
    if (!e.ua.empty()) o["ua"] = e.ua;
    list.push_back(std::move(o));
  }
  return {{"sec:fcb", {{"fcr", std::move(list)}}}};
}

Result<CredentialFetchBatch> CredentialFetchBatch::from_json(const json& j) {
  Reader r(j, "sec:fcb");
  const json* list = r.array("fcr", true, kMaxFetchBatch, 1);
  if (!r.ok()) return std::unexpected(r.error());
  CredentialFetchBatch b;
  b.entries.reserve(list->size());
  for (const json& item : *list) {
    const std::string name = "sec:fcb.fcr[" + std::to_string(b.entries.size()) + "]";
    const json wrapped = {{name, item}};  // the reader points into it
    Reader e(wrapped, name.c_str());
    Entry entry{e.str("kid"), e.str("ua", false, 64)};
    if (!e.ok()) return std::unexpected(e.error());
    b.entries.push_back(std::move(entry));
  }
  return b;
}

json CredentialFetchResults::to_json() const {
  json list = json::array();
  for (const Entry& e : entries) list.push_back({{"rsc", e.rsc}, {"pc", e.content}});
  return {{"sec:fcbr", {{"rsp", std::move(list)}}}};
}

Result<CredentialFetchResults> CredentialFetchResults::from_json(const json& j) {
  Reader r(j, "sec:fcbr");
  const json* list = r.array("rsp", true, kMaxFetchBatch, 1);
  if (!r.ok()) return std::unexpected(r.error());
  CredentialFetchResults out;
  out.entries.reserve(list->size());
  for (const json& item : *list) {
    const std::string name = "sec:fcbr.rsp[" + std::to_string(out.entries.size()) + "]";
    const json wrapped = {{name, item}};  // the reader points into it
    Reader e(wrapped, name.c_str());
    Entry entry;
    entry.rsc = static_cast<int>(e.integer("rsc", 0, 1000, 9999, true));
    const json* pc = e.raw("pc");
    if (e.ok() && (pc == nullptr || !pc->is_object())) e.bad("pc", "is not an object");
    if (!e.ok()) return std::unexpected(e.error());
    entry.content = *pc;
    out.entries.push_back(std::move(entry));
  }
  return out;
}

json MafClientRegRequest::to_json() const {
  json o = {{"fqdn", maf_fqdn}, {"adm", admin_fqdn}};
  if (expiration != 0) o["et"] = format_time(expiration);
  return {{"sec:mcr", o}};
}

Result<MafClientRegRequest> MafClientRegRequest::from_json(const json& j) {
  Reader r(j, "sec:mcr");
  MafClientRegRequest m;
  m.maf_fqdn = r.str("fqdn");
  m.admin_fqdn = r.str("adm", false);
  m.expiration = r.time("et", false);
  if (!r.ok()) return std::unexpected(r.error());
  return m;
}

json MafClientRegResponse::to_json() const {
  json o = {{"ri", reg_id}, {"cid", client_id}, {"adm", admin_fqdn}};
  if (expiration != 0) o["et"] = format_time(expiration);
  if (!assigned_key_id.empty()) o["sid"] = assigned_key_id;
  return {{"sec:mcr", o}};
}

Result<MafClientRegResponse> MafClientRegResponse::from_json(const json& j) {
  Reader r(j, "sec:mcr");
  MafClientRegResponse m;
  m.reg_id = r.str("ri");
  m.client_id = r.str("cid");
  m.admin_fqdn = r.str("adm", false);
  m.expiration = r.time("et", false);
  m.assigned_key_id = r.str("sid", false);
  if (!r.ok()) return std::unexpected(r.error());
  return m;
}

json MafKeyRegRequest::to_json() const {
  json o = {{"fqdn", maf_fqdn}, {"adm", admin_fqdn}, {"suid", suid}, {"tids", targets}};
  if (expiration != 0) o["et"] = format_time(expiration);
  return {{"sec:mkr", o}};
}

Result<MafKeyRegRequest> MafKeyRegRequest::from_json(const json& j) {
  Reader r(j, "sec:mkr");
  MafKeyRegRequest m;
  m.maf_fqdn = r.str("fqdn");
  m.admin_fqdn = r.str("adm", false);
  m.expiration = r.time("et", false);
  m.suid = static_cast<int>(r.integer("suid", kSuidMafSaef, 0, 65535, true));
  m.targets = r.strings("tids", false);
  if (!r.ok()) return std::unexpected(r.error());
  return m;
}

json MafKeyRegResponse::to_json() const {
  json o = {{"rki", relative_key_id}, {"sid", source_id}, {"adm", admin_fqdn}, {"suid", suid},
            {"tids", targets}};
  if (expiration != 0) o["et"] = format_time(expiration);
  return {{"sec:mkr", o}};
}

Result<MafKeyRegResponse> MafKeyRegResponse::from_json(const json& j) {
  Reader r(j, "sec:mkr");
  MafKeyRegResponse m;
  m.relative_key_id = r.str("rki");
  m.source_id = r.str("sid");
  m.admin_fqdn = r.str("adm", false);
  m.expiration = r.time("et", false);
  m.suid = static_cast<int>(r.integer("suid", kSuidMafSaef, 0, 65535, true));
  m.targets = r.strings("tids", true);
  if (!r.ok()) return std::unexpected(r.error());
  return m;
}

json MafKeyRetrieveResponse::to_json() const {
  json o = {{"kv", key_b64(key)}, {"sid", source_id}, {"adm", admin_fqdn}, {"suid", suid}};
  if (expiration != 0) o["et"] = format_time(expiration);
  return {{"sec:mkr", o}};
}

Result<MafKeyRetrieveResponse> MafKeyRetrieveResponse::from_json(const json& j) {
  Reader r(j, "sec:mkr");
  MafKeyRetrieveResponse m;
  m.key = r.key("kv");
  m.source_id = r.str("sid");
  m.admin_fqdn = r.str("adm", false);
  m.expiration = r.time("et", true);
  m.suid = static_cast<int>(r.integer("suid", kSuidMafSaef, 0, 65535, true));
  if (!r.ok()) return std::unexpected(r.error());
  return m;
}

json MafKeyPush::to_json() const {
  return {{"sec:mkp",
           {{"kid", kc_id}, {"kv", key_b64(key)}, {"et", format_time(expiration)}, {"sid", source_id},
            {"adm", admin_fqdn}, {"suid", suid}}}};
}

Result<MafKeyPush> MafKeyPush::from_json(const json& j) {
  Reader r(j, "sec:mkp");
  MafKeyPush m;
  m.kc_id = r.str("kid");
  m.key = r.key("kv");
  m.expiration = r.time("et");
  m.source_id = r.str("sid");
  m.admin_fqdn = r.str("adm", false);
  m.suid = static_cast<int>(r.integer("suid", kSuidMafSaef, 0, 65535, true));
  if (!r.ok()) return std::unexpected(r.error());
  return m;
}

MafKeyPush MafKeyPush::clone() const {
  return {kc_id, key.clone(), expiration, source_id, admin_fqdn, suid};
}

json MafKeyPushBatch::to_json() const {
  json list = json::array();
  for (const MafKeyPush& k : keys) list.push_back(std::move(k.to_json()["sec:mkp"]));
  return {{"sec:mkb", {{"mkp", std::move(list)}}}};
}

Result<MafKeyPushBatch> MafKeyPushBatch::from_json(const json& j) {
  Reader r(j, "sec:mkb");
  const json* list = r.array("mkp", true, kMaxPushBatch, 1);
  if (!r.ok()) return std::unexpected(r.error());
  MafKeyPushBatch b;
  b.keys.reserve(list->size());
  for (const json& item : *list) {
    auto k = MafKeyPush::from_json(json{{"sec:mkp", item}});
    if (!k) return fail(k.error().code(), "sec:mkb.mkp[" + std::to_string(b.keys.size()) + "]: " + k.error().detail());
    b.keys.push_back(std::move(*k));
  }
  return b;
}

namespace {
// read_rsc_list reads a batch's answer: {"<wrapper>": {"rsc": [...]}}, at
// most |max| codes, each a four-digit RSC.
Result<std::vector<int>> read_rsc_list(const json& j, const char* wrapper, std::size_t max) {
  Reader r(j, wrapper);
  const std::vector<std::int64_t> codes = r.integers("rsc", 1000, 9999, true, max);
  if (!r.ok()) return std::unexpected(r.error());
  return std::vector<int>(codes.begin(), codes.end());
}
}  // namespace

json MafKeyPushResults::to_json() const { return {{"sec:mkbr", {{"rsc", rsc}}}}; }

Result<MafKeyPushResults> MafKeyPushResults::from_json(const json& j) {
  auto codes = read_rsc_list(j, "sec:mkbr", kMaxPushBatch);
  if (!codes) return std::unexpected(codes.error());
  return MafKeyPushResults{std::move(*codes)};
}

json MafKeyDeregBatch::to_json() const {
  json o = {{"kid", relative_ids}};
  if (!holder.empty()) o["hld"] = holder;
  return {{"sec:mkd", std::move(o)}};
}

Result<MafKeyDeregBatch> MafKeyDeregBatch::from_json(const json& j) {
  Reader r(j, "sec:mkd");
  MafKeyDeregBatch b;
  b.relative_ids = r.strings("kid", true, kMaxDeregBatch);
  b.holder = r.str("hld", false, 64);
  if (r.ok() && b.relative_ids.empty()) r.bad("kid", "is empty");
  if (r.ok() && !b.holder.empty() && !check_holder_id(b.holder)) r.bad("hld", "is not a holder ID");
  if (!r.ok()) return std::unexpected(r.error());
  return b;
}

json MafKeyDeregResults::to_json() const { return {{"sec:mkdr", {{"rsc", rsc}}}}; }

Result<MafKeyDeregResults> MafKeyDeregResults::from_json(const json& j) {
  auto codes = read_rsc_list(j, "sec:mkdr", kMaxDeregBatch);
  if (!codes) return std::unexpected(codes.error());
  return MafKeyDeregResults{std::move(*codes)};
}

json RevocationFeed::to_json() const {
  json ent = json::array();
  for (const RevocationEntry& e : entries) {
    json o = {{"sn", e.seq}, {"knd", e.kind}, {"kid", e.key_id}, {"eid", e.entity_id},
              {"rt", format_time(e.revoked_at)}};
    if (!e.kpsa_id.empty()) o["kps"] = e.kpsa_id;
    if (e.expiration != 0) o["et"] = format_time(e.expiration);
    ent.push_back(std::move(o));
  }
  return {{"sec:rvf", {{"ep", epoch}, {"hd", head}, {"mr", more}, {"ent", std::move(ent)}}}};
}

Result<RevocationFeed> RevocationFeed::from_json(const json& j) {
  constexpr std::int64_t kMaxSeq = std::numeric_limits<std::int64_t>::max();
  Reader r(j, "sec:rvf");
  RevocationFeed f;
  f.epoch = r.str("ep", true, 64);
  f.head = r.integer("hd", 0, 0, kMaxSeq, true);
  f.more = r.boolean("mr", false);
  const json* ent = r.raw("ent");
  if (r.ok() && (ent == nullptr || !ent->is_array())) r.bad("ent", "is not an array");
  if (r.ok() && ent->size() > 1000) r.bad("ent", "has more than 1000 entries");
  if (!r.ok()) return std::unexpected(r.error());
  std::int64_t last = 0;
  for (const json& item : *ent) {
    const json wrapped = {{"ent", item}};
    Reader er(wrapped, "ent");
    RevocationEntry e;
    e.seq = er.integer("sn", 0, 1, kMaxSeq, true);
    e.kind = er.str("knd", true, 8);
    e.key_id = er.str("kid");
    e.entity_id = er.str("eid", false);
    e.kpsa_id = er.str("kps", false);
    e.expiration = er.time("et", false);
    e.revoked_at = er.time("rt", false);
    if (er.ok() && e.kind != "ke" && e.kind != "km" && e.kind != "kc") er.bad("knd", "is not ke, km or kc");
    if (er.ok() && (e.seq <= last || e.seq > f.head)) er.bad("sn", "is out of order or after hd");
    if (!er.ok()) return std::unexpected(er.error());
    last = e.seq;
    f.entries.push_back(std::move(e));
  }
  return f;
}

crypto::UaBinding ua_binding(tls::Transport transport) {
  return transport == tls::Transport::dtls ? crypto::UaBinding::dtls : crypto::UaBinding::tls;
}

std::string fetch_credentials_path(std::string_view key_id, int suid, std::optional<tls::Transport> ua) {
  std::string out = std::string(kMefFetchPrefix) + percent_encode(key_id) + "/" + std::to_string(suid);
  if (ua) out += "?" + std::string(kUaQuery) + hex_encode(crypto::ua_security_protocol_id(ua_binding(*ua)));
  return out;
}

}  // namespace m2msec::proto
