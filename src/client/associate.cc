#include "m2msec/client/associate.h"

#include <algorithm>
#include <thread>

#include "m2msec/client/gba.h"
#include "m2msec/core/encoding.h"
#include "m2msec/crypto/derive.h"
#include "m2msec/proto/channel.h"
#include "m2msec/proto/messages.h"
#include "m2msec/core/endpoint.h"

namespace m2msec::client {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// connect opens a session with |psk|, or with the certificate options.
// A GBA key (|gba|) goes only with the PSK suite its Ua security protocol
// identifier names, so the shared PSK context (other suites) is not used.
// Server is one server's address resolved: "coaps://" or "https://" pick
// the transport and binding, a bare HOST:PORT takes the options' transport
// and its binding.
struct Server {
  std::string host;
  std::uint16_t port = 0;
  tls::Transport transport = tls::Transport::tls;
  proto::Binding binding = proto::Binding::http;
};

Result<Server> resolve(const AssociateOptions& o, const std::string& address) {
  auto a = proto::parse_service_address(address);
  if (!a) return std::unexpected(a.error());
  return Server{a->host, a->port, a->transport_or(o.transport), a->binding_or(o.transport, o.binding)};
}

Result<tls::TlsClient> connect(const AssociateOptions& o, const Server& server, const std::string& sni,
                               std::optional<tls::ClientPsk> psk, bool gba = false) {
  tls::ClientOptions co;
  co.transport = server.transport;
  co.host = server.host;
  co.port = server.port;
  co.sni = sni;
  co.psk = std::move(psk);
  co.timeout = o.timeout;
  if (co.psk && !gba && o.psk_context && o.psk_context->transport() == server.transport) co.context = o.psk_context;
  if (gba) co.ciphers.psk_suites = gba_psk_suite(server.transport);
  if (!co.psk) {
    co.certificate = o.certificate;
    co.trust = o.trust;
    if (o.certificate_context && o.certificate_context->transport() == server.transport &&
        o.certificate_context->verifies_certificates()) {
      co.context = o.certificate_context;
    }
  }
  return tls::TlsClient::connect(std::move(co));
}

// at names the server a step failed with, keeping the error code, so that
// a refusal says whether the MAF or Entity B refused.
Error at(std::string_view who, const std::string& address, const Error& e) {
  return Error(e.code(), std::string(who) + " " + address + ": " + e.detail());
}

// sp_relative turns "//sp/cse" into "/cse", the form the MAF compares
// with Entity B's authenticated CSE-ID.
std::string sp_relative(const std::string& cse_id) {
  if (!cse_id.starts_with("//")) return cse_id;
  const std::size_t slash = cse_id.find('/', 2);
  return slash == std::string::npos ? cse_id : cse_id.substr(slash);
}

// maf_phase runs the MAF handshake, registration and key registration,
// returning Kc and KcID (8.2.2.3 "M2M Secure Connection Key generation").
// gba_key derives the Ks_NAF of a GBA device's bootstrap for the NAF
// |naf_fqdn| with the Ua security protocol identifier of |transport|
// (8.3.2.3: Km or Kpsa).
Result<SecretBytes> gba_key(const AssociateOptions& o, const DeviceState& st, std::string_view naf_fqdn,
                            tls::Transport transport) {
  if (st.impi.empty()) return fail(Errc::invalid_argument, "device holds no GBA bootstrap (m2msec enrol --gba)");
  if (st.expiry != 0 && st.expiry <= now_unix()) {
    return fail(Errc::key_expired, "the GBA bootstrap has expired; run m2msec enrol --gba again");
  }
  auto ks = o.device ? Result<SecretBytes>(o.device->ke.clone()) : load_device_key(o.state_dir, "ke");
  if (!ks) return std::unexpected(ks.error());
  auto rand = hex_decode(st.gba_rand);
  if (!rand) return fail(Errc::malformed_message, "state.json: gba_rand is not hex");
  return gba_ks_naf(*ks, *rand, st.impi, naf_fqdn, transport);
}

// save_state writes the device's state back (to memory or its directory).
Status save_state(const AssociateOptions& o, const DeviceState& st) {
  if (o.device) {
    o.device->state = st;
    return {};
  }
  return save_device_state(o.state_dir, st, {}, {}, {});
}

Result<std::pair<SecretBytes, KeyId>> maf_phase(const AssociateOptions& o, DeviceState& st, AssociateResult& out) {
  // A GBA device's Km is the Ks_NAF of the MAF (8.3.2.3), formed with the
  // Ua identifier of its first MAF session's transport: the MAF keeps that
  // one Km for the client (docs/protocol.md 2.4).
  const bool gba = !st.impi.empty();
  const std::string address = o.maf_address.empty() ? st.maf_address : o.maf_address;
  auto maf = resolve(o, address);
  if (!maf) return std::unexpected(at("MAF", address, maf.error()));
  const tls::Transport ua = st.gba_maf_ua.empty() ? maf->transport
                            : st.gba_maf_ua == "dtls" ? tls::Transport::dtls
                                                      : tls::Transport::tls;
  auto km = gba ? gba_key(o, st, st.target, ua)
                : (o.device ? Result<SecretBytes>(o.device->km.clone()) : load_device_key(o.state_dir, "km"));
  if (!km) return std::unexpected(km.error());
  if (km->empty()) return fail(Errc::invalid_argument, "device holds no Km");
  auto maf_fqdn = Fqdn::parse(st.target);
  if (!maf_fqdn) return std::unexpected(maf_fqdn.error());
  const std::string identity = st.km_id.empty() ? st.key_id : st.km_id;
  auto conn = connect(o, *maf, st.target, tls::ClientPsk{identity, std::move(*km)}, gba);
  if (!conn) return std::unexpected(at("MAF", address, conn.error()));
  if (gba && st.gba_maf_ua.empty()) {
    st.gba_maf_ua = std::string(tls::transport_name(ua));
    if (auto s = save_state(o, st); !s) return std::unexpected(s.error());
  }
  auto channel = proto::open_channel(maf->binding, *conn, st.target, o.timeout);
  proto::Channel& http = *channel;

  if (st.km_id.empty()) {  // 8.8.2.3 MAF Client Registration
    proto::Request reg;
    reg.op = proto::Operation::create;
    reg.to = std::string(proto::kMafPath);
    reg.ty = proto::kTyMafClientReg;
    reg.from = st.enrolee_id;
    reg.content = proto::MafClientRegRequest{st.target, 0, ""}.to_json();
    auto rsp = http.call(std::move(reg));
    if (!rsp) return std::unexpected(rsp.error());
    if (auto s = proto::expect_success(*rsp); !s) return std::unexpected(s.error());
    auto body = proto::MafClientRegResponse::from_json(rsp->content);
    if (!body) return std::unexpected(body.error());
    if (!body->assigned_key_id.empty()) {
      st.km_id = body->assigned_key_id;
      if (auto s = save_state(o, st); !s) return std::unexpected(s.error());
    }
  }
  out.km_id = st.km_id.empty() ? identity : st.km_id;

  // 8.8.2.7 MAF Key Registration; Kc from the exporter (10.3.1).
  proto::Request kr;
  kr.op = proto::Operation::create;
  kr.to = std::string(proto::kMafPath);
  kr.ty = proto::kTyMafKeyReg;
  kr.from = st.enrolee_id;
  const std::int64_t now = now_unix();
  kr.content = proto::MafKeyRegRequest{st.target, o.kc_lifetime > 0 ? now + o.kc_lifetime : 0, "",
                                       proto::kSuidMafSaef, {sp_relative(o.cse_id)}}
                   .to_json();
  kr.close = true;  // the session's last request: the MAF closes after answering
  auto rsp = http.call(std::move(kr));
  if (!rsp) return std::unexpected(rsp.error());
  if (auto s = proto::expect_success(*rsp); !s) return std::unexpected(s.error());
  auto body = proto::MafKeyRegResponse::from_json(rsp->content);
  if (!body) return std::unexpected(body.error());
  auto exported = conn->export_keying_material(crypto::kConnectionExporterLabel, crypto::kExportedSize);
  conn->close();
  if (!exported) return std::unexpected(exported.error());
  auto parts = crypto::split_exported(exported->view());
  if (!parts) return std::unexpected(parts.error());
  auto kc_id = KeyId::from_relative(KeyIdKind::kc, parts->relative_id, *maf_fqdn, o.id_encoding);
  if (!kc_id) return std::unexpected(kc_id.error());
  if (body->relative_key_id != kc_id->relative()) {
    return fail(Errc::malformed_message, "MAF registered a different RelativeKcID");
  }
  out.key_expiry = body->expiration;
  return std::pair<SecretBytes, KeyId>(std::move(parts->key), std::move(*kc_id));
}

// default_cse_fqdn is the public domain name of Entity B's CSE-ID (8.1.2.1),
// used as SNI: "//sp/cse" gives "cse.sp"; "/cse" uses the SP domain the
// MEF told the device.
std::string default_cse_fqdn(const AssociateOptions& o, const DeviceState& st) {
  if (!o.cse_fqdn.empty()) return o.cse_fqdn;
  if (o.cse_id.starts_with("//")) {
    const std::string rest = o.cse_id.substr(2);
    const std::size_t slash = rest.find('/');
    if (slash == std::string::npos) return "";
    auto fqdn = cse_public_domain_name(rest.substr(slash), rest.substr(0, slash));
    return fqdn ? *fqdn : "";
  }
  auto fqdn = cse_public_domain_name(o.cse_id, st.sp_domain);
  return fqdn ? *fqdn : "";
}


}  // namespace

std::string_view framework_name(Framework f) {
  switch (f) {
    case Framework::maf:
      return "maf";
    case Framework::kpsa:
      return "kpsa";
    case Framework::cert:
      return "cert";
    case Framework::gba:
      return "gba";
    default:
      return "unknown";
  }
}

Result<Framework> parse_framework(std::string_view text) {
  if (text == "maf") return Framework::maf;
  if (text == "kpsa") return Framework::kpsa;
  if (text == "cert") return Framework::cert;
  if (text == "gba") return Framework::gba;
  return fail(Errc::invalid_argument, "framework must be maf, kpsa, cert or gba");
}

Result<AssociateResult> associate(AssociateOptions o) {
  AssociateResult out;
  out.framework = o.framework;
  std::optional<tls::ClientPsk> psk;
  DeviceState st;
  std::string sni = o.cse_fqdn;
  if (o.framework != Framework::cert) {
    auto loaded = o.device ? Result<DeviceState>(o.device->state) : load_device_state(o.state_dir);
    if (!loaded) return std::unexpected(loaded.error());
    st = std::move(*loaded);
    out.entity_id = st.enrolee_id;
    sni = default_cse_fqdn(o, st);
    if (sni.empty()) return fail(Errc::invalid_argument, "cannot derive Entity B's FQDN; give --cse-fqdn");
  } else {
    out.entity_id = o.entity_id;
    if (sni.empty()) return fail(Errc::invalid_argument, "the certificate framework needs Entity B's FQDN");
  }
  auto cse = resolve(o, o.cse_address);
  if (!cse) return std::unexpected(at("Entity B", o.cse_address, cse.error()));
  const auto t0 = Clock::now();
  bool gba_session = false;
  switch (o.framework) {
    case Framework::maf: {
      if (st.target_kind != "maf") return fail(Errc::invalid_argument, "device is not enrolled for a MAF");
      auto kc = maf_phase(o, st, out);
      if (!kc) return std::unexpected(kc.error());
      out.key_id = kc->second.str();
      psk = tls::ClientPsk{kc->second.str(), std::move(kc->first)};
      out.maf_ms = ms_since(t0);
      break;
    }
    case Framework::kpsa: {
      if (st.target_kind != "kpsa") return fail(Errc::invalid_argument, "device is not provisioned with a Kpsa");
      auto kpsa = o.device ? Result<SecretBytes>(o.device->kpsa.clone()) : load_device_key(o.state_dir, "kpsa");
      if (!kpsa) return std::unexpected(kpsa.error());
      if (kpsa->empty()) return fail(Errc::invalid_argument, "device holds no Kpsa");
      out.key_id = st.key_id;
      out.key_expiry = st.key_lifetime;
      psk = tls::ClientPsk{st.key_id, std::move(*kpsa)};
      break;
    }
    case Framework::cert:
      if (!o.certificate || !o.trust) return fail(Errc::invalid_argument, "certificate framework needs --cert/--key/--ca");
      break;
    case Framework::gba: {
      // 8.3.2.3 with Entity B as the NAF, whose FQDN is the public domain
      // name of its CSE-ID (8.1.2.1), the SNI here.
      auto kpsa = gba_key(o, st, sni, cse->transport);
      if (!kpsa) return std::unexpected(kpsa.error());
      out.key_id = st.ke_id;
      out.key_expiry = st.expiry;
      psk = tls::ClientPsk{st.ke_id, std::move(*kpsa)};
      gba_session = true;
      break;
    }
    default:
      return fail(Errc::invalid_argument, "unknown framework");
  }
  if (o.hold.count() > 0) std::this_thread::sleep_for(o.hold);
  const auto t1 = Clock::now();
  auto conn = connect(o, *cse, sni, std::move(psk), gba_session);
  if (!conn) return std::unexpected(at("Entity B", o.cse_address, conn.error()));
  proto::Request req = o.request;
  if (req.to.empty()) req.to = o.cse_id;  // the CSE-ID addresses the CSEBase
  if (req.from.empty()) req.from = out.entity_id;
  auto channel = proto::open_channel(cse->binding, *conn, sni, o.timeout);
  proto::Channel& http = *channel;
  const int repeat = std::max(1, o.repeat);
  for (int i = 0; i < repeat; ++i) {
    if (i > 0 && o.interval.count() > 0) std::this_thread::sleep_for(o.interval);
    req.close = i + 1 == repeat;  // Entity B closes after answering the last one
    auto rsp = http.call(req);
    if (!rsp) {
      conn->close();
      if (i == 0) return std::unexpected(rsp.error());
      return fail(rsp.error().code(), "Entity B ended the session after " + std::to_string(i) +
                                          " request(s): " + rsp.error().message());
    }
    out.response = std::move(*rsp);
    ++out.served;
  }
  conn->close();
  out.cse_ms = ms_since(t1);
  return out;
}

}  // namespace m2msec::client
