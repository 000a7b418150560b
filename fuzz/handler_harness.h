// handler_harness.h: what the MEF, MAF and Entity B handler fuzzers share.
//
// Input: byte 0 picks the AuthContext (bits 0-1: none, PSK or certificate;
// bits 2-4: which of the role's identities; bit 5: whether the session
// exported keying material); the rest is HTTP request text, parsed by the
// real RequestReader as a listener would. Each parsed request goes through
// the role's handle() with a real SQLite store (on tmpfs when there is one,
// so fsync costs nothing).
//
// Invariants (any violation aborts, which libFuzzer reports):
//  - handle() does not throw, and answers every request exactly once
//    (a Reply destroyed unanswered is a lost request);
//  - the answer carries the request's rqi and a known RSC, and encodes;
//  - the m2m:dbg text is printable ASCII (peer bytes quoted).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

#include <spdlog/spdlog.h>

#include "fuzz_check.h"
#include "m2msec/proto/http.h"
#include "m2msec/service/auth_context.h"

namespace m2msec::fuzz {

// fuzz_dir makes a fresh directory for a harness's store.
inline std::string fuzz_dir(const char* role) {
  const std::filesystem::path base = std::filesystem::exists("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                                          : std::filesystem::temp_directory_path();
  std::string tmpl = (base / (std::string("m2msec-fuzz-") + role + "-XXXXXX")).string();
  FUZZ_CHECK(::mkdtemp(tmpl.data()) != nullptr);
  return tmpl;
}

struct Identities {
  std::vector<std::string> psk;  // PSK identities
  std::vector<std::vector<std::string>> cert_dns;
  std::vector<std::vector<std::string>> cert_uris;
  std::string export_label_hint;  // informational
};

inline service::AuthRef make_ctx(std::uint8_t sel, const Identities& ids) {
  auto c = std::make_shared<service::AuthContext>();
  const unsigned which = (sel >> 2) & 7;
  switch (sel & 3) {
    case 1:
      c->peer.kind = tls::PeerIdentity::Kind::psk;
      c->peer.psk_identity = ids.psk[which % ids.psk.size()];
      c->key_id = c->peer.psk_identity;
      break;
    case 2:
    case 3:
      c->peer.kind = tls::PeerIdentity::Kind::certificate;
      c->peer.dns_names = ids.cert_dns[which % ids.cert_dns.size()];
      c->peer.san_uris = ids.cert_uris[which % ids.cert_uris.size()];
      // Three anchors: the enrolees' device CA, another device CA, and
      // the infrastructure CA (as a listener's two sets classify them).
      c->peer.trust_anchor = "sha256:" + std::string(64, (sel & 0x40) ? 'e' : (sel & 0x80) ? '1' : 'f');
      c->peer.anchor_role = (sel & 0x80) && !(sel & 0x40) ? tls::AnchorRole::infrastructure : tls::AnchorRole::device;
      break;
    default:
      break;
  }
  if (sel & 0x20) {
    std::vector<std::uint8_t> v(48);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::uint8_t>(i * 7 + sel);
    c->exported = SecretBytes(v);
  }
  c->listener = "fuzz/tls";
  return c;
}

// UnansweredGuard aborts if the last copy of a Reply dies unanswered.
struct UnansweredGuard {
  std::atomic<bool> answered{false};
  ~UnansweredGuard() { FUZZ_CHECK(answered.load()); }
};

inline bool known_rsc(proto::Rsc r) {
  switch (r) {
    case proto::Rsc::ok:
    case proto::Rsc::created:
    case proto::Rsc::deleted:
    case proto::Rsc::updated:
    case proto::Rsc::bad_request:
    case proto::Rsc::not_found:
    case proto::Rsc::operation_not_allowed:
    case proto::Rsc::request_timeout:
    case proto::Rsc::contents_unacceptable:
    case proto::Rsc::originator_has_no_privilege:
    case proto::Rsc::conflict:
    case proto::Rsc::security_association_required:
    case proto::Rsc::internal_server_error:
    case proto::Rsc::not_implemented:
    case proto::Rsc::target_not_reachable:
    case proto::Rsc::receiver_has_no_privilege:
    case proto::Rsc::already_exists:
      return true;
    default:
      return false;
  }
}

// drive parses |data| as the harness input and runs each request through
// |handle| (a callable (AuthRef, Request, Reply)).
template <typename Handle>
void drive(const std::uint8_t* data, std::size_t size, const Identities& ids, Handle&& handle) {
  if (size < 1) return;
  const service::AuthRef ctx = make_ctx(data[0], ids);
  proto::RequestReader reader;
  if (!reader.feed({data + 1, size - 1})) return;
  for (int i = 0; i < 4; ++i) {
    auto next = reader.next();
    if (!next || !*next) return;
    const proto::Request req = std::move(**next);
    auto promise = std::make_shared<std::promise<proto::Response>>();
    auto future = promise->get_future();
    {
      auto guard = std::make_shared<UnansweredGuard>();
      handle(ctx, req, [promise, guard](proto::Response rsp) {
        FUZZ_CHECK(!guard->answered.exchange(true));  // answered once
        promise->set_value(std::move(rsp));
      });
    }
    FUZZ_CHECK(future.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    const proto::Response rsp = future.get();
    FUZZ_CHECK(rsp.rqi == req.rqi);
    FUZZ_CHECK(known_rsc(rsp.rsc));
    const std::string wire = proto::encode_response(rsp);
    FUZZ_CHECK(!wire.empty());
    if (rsp.content.is_object() && rsp.content.contains("m2m:dbg")) {
      FUZZ_CHECK(rsp.content["m2m:dbg"].is_string());
      for (char c : rsp.content["m2m:dbg"].get<std::string>()) {
        FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) <= 0x7e);
      }
    }
  }
}

// quiet turns the servers' logging off: the fuzzers run millions of
// requests.
inline void quiet() { spdlog::set_level(spdlog::level::off); }

}  // namespace m2msec::fuzz
