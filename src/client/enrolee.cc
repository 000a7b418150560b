#include "m2msec/client/enrolee.h"

#include "m2msec/crypto/derive.h"
#include "m2msec/proto/channel.h"
#include "m2msec/proto/messages.h"

namespace m2msec::client {

Result<Enrolment> enrol(const EnrolOptions& o) {
  auto mef = Fqdn::parse(o.mef_fqdn);
  if (!mef) return std::unexpected(mef.error());
  tls::ClientOptions co;
  co.transport = o.transport;
  co.host = o.host;
  co.port = o.port;
  co.sni = o.mef_fqdn;
  co.timeout = o.timeout;
  if (o.psk) co.psk = tls::ClientPsk{o.psk->identity, o.psk->key.clone()};
  co.certificate = o.certificate;
  co.trust = o.trust;
  co.context = o.context;
  auto conn = tls::TlsClient::connect(std::move(co));
  if (!conn) return std::unexpected(conn.error());

  // 10.3.1: Ke = 32 least significant bytes, RelativeKeID = 16 most
  // significant bytes of EXPORTER-oneM2M-Bootstrap, length 48.
  auto exported = conn->export_keying_material(crypto::kBootstrapExporterLabel, crypto::kExportedSize);
  if (!exported) return std::unexpected(exported.error());
  auto parts = crypto::split_exported(exported->view());
  if (!parts) return std::unexpected(parts.error());
  auto ke_id = KeyId::from_relative(KeyIdKind::ke, parts->relative_id, *mef, o.id_encoding);
  if (!ke_id) return std::unexpected(ke_id.error());

  proto::Request req;
  req.op = proto::Operation::create;
  req.to = std::string(proto::kMefPath);
  req.ty = proto::kTyEnrolment;
  if (o.psk) {
    req.from = o.psk->identity;
  } else if (o.certificate) {
    // The enrolee names itself by its certificate's first name.
    std::vector<std::string> uris, dns;
    tls::certificate_names(o.certificate->leaf.get(), uris, dns);
    req.from = !uris.empty() ? uris.front() : (!dns.empty() ? dns.front() : "");
  }
  proto::EnrolRequest body;
  body.maf_id = o.maf_fqdn;
  req.content = body.to_json();
  req.close = true;  // the only request of this session: the MEF closes after answering
  auto channel = proto::open_channel(o.binding.value_or(proto::default_binding(o.transport)), *conn, o.mef_fqdn,
                                     o.timeout);
  auto rsp = channel->call(std::move(req));
  conn->close();
  if (!rsp) return std::unexpected(rsp.error());
  if (auto st = proto::expect_success(*rsp); !st) return std::unexpected(st.error());
  auto answer = proto::EnrolResponse::from_json(rsp->content);
  if (!answer) return std::unexpected(answer.error());
  if (answer->ke_id != ke_id->str()) {
    return fail(Errc::malformed_message, "MEF formed a different KeID than the enrolee");
  }
  if (answer->instructions.empty()) return fail(Errc::malformed_message, "MEF gave no instruction");
  const proto::EnrolInstruction& ins = answer->instructions.front();

  Enrolment out;
  out.state.enrolee_id = answer->enrolee_id;
  out.state.mef_fqdn = o.mef_fqdn;
  out.state.ke_id = ke_id->str();
  out.state.expiry = answer->expiry;
  out.state.sp_domain = answer->sp_domain;
  out.state.target = ins.target;
  out.state.key_id = ins.key_id;
  out.state.key_lifetime = ins.lifetime;
  out.ke = parts->key.clone();
  switch (ins.kind) {
    case proto::EnrolInstruction::Kind::maf: {
      out.state.target_kind = "maf";
      // An https:// clientRegURI keeps HOST:PORT (the device's own
      // transport applies); a coaps:// one keeps its scheme.
      const std::string& uri = ins.client_reg_uri;
      for (const std::string_view prefix : {"https://", "coaps://"}) {
        if (!uri.starts_with(prefix)) continue;
        std::string addr = uri.substr(prefix.size());
        addr = addr.substr(0, addr.find('/'));
        out.state.maf_address = prefix == "coaps://" ? "coaps://" + addr : addr;
      }
      // 10.3.2 with the MAF-ID formed as the MEF forms it.
      auto km = crypto::derive_km(out.ke.view(), crypto::maf_id_for_km(ins.target));
      if (!km) return std::unexpected(km.error());
      out.km = std::move(*km);
      break;
    }
    case proto::EnrolInstruction::Kind::kpsa: {
      out.state.target_kind = "kpsa";
      auto kpsa = crypto::derive_kpsa(out.ke.view(), ins.target);  // 10.3.3
      if (!kpsa) return std::unexpected(kpsa.error());
      out.kpsa = std::move(*kpsa);
      break;
    }
    default:
      return fail(Errc::malformed_message, "unknown instruction");
  }
  return out;
}

}  // namespace m2msec::client
