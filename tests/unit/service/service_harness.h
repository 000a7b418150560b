// service_harness.h: driving the pure handlers of the MEF, MAF and Entity B
// with constructed AuthContexts and a real SQLite store in a temp dir.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "../store/test_util.h"
#include "m2msec/proto/primitive.h"
#include "m2msec/service/auth_context.h"

namespace m2msec::service::testing {

using store::testing::TempDir;
using ::m2msec::service::AuthContext;
using ::m2msec::service::AuthRef;

// exported_bytes returns 48 bytes start, start+1, ... as the "exporter
// output" of a constructed session.
inline SecretBytes exported_bytes(std::uint8_t start) {
  std::vector<std::uint8_t> v(48);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::uint8_t>(start + i);
  return SecretBytes(v);
}

inline AuthRef psk_ctx(const std::string& identity, SecretBytes exported = {}, std::string entity = {}) {
  auto c = std::make_shared<AuthContext>();
  c->peer.kind = tls::PeerIdentity::Kind::psk;
  c->peer.psk_identity = identity;
  c->key_id = identity;
  c->exported = std::move(exported);
  c->entity_id = std::move(entity);
  c->listener = "test/tls";
  return c;
}

// The constructed sessions' anchors, as a listener configured with
// trust_anchors = {kInfraCa} and device_trust_anchors = {kDeviceCa,
// kOtherDeviceCa} would classify them (tls::PeerIdentity::anchor_role).
// kDeviceCa is the root of trust of store::testing::cert_enrolee().
inline const std::string kInfraCa = "sha256:" + std::string(64, '1');
inline const std::string kDeviceCa = store::testing::kFactoryCa;
inline const std::string kOtherDeviceCa = "sha256:" + std::string(64, 'e');

inline tls::AnchorRole test_anchor_role(const std::string& anchor) {
  if (anchor == kInfraCa) return tls::AnchorRole::infrastructure;
  if (anchor == kDeviceCa || anchor == kOtherDeviceCa) return tls::AnchorRole::device;
  return tls::AnchorRole::none;
}

inline AuthRef cert_ctx(std::vector<std::string> uris, std::vector<std::string> dns, std::string anchor = kInfraCa,
                        SecretBytes exported = {}, std::string entity = {}) {
  auto c = std::make_shared<AuthContext>();
  c->peer.kind = tls::PeerIdentity::Kind::certificate;
  c->peer.san_uris = std::move(uris);
  c->peer.dns_names = std::move(dns);
  c->peer.anchor_role = test_anchor_role(anchor);
  c->peer.trust_anchor = std::move(anchor);
  c->exported = std::move(exported);
  c->entity_id = std::move(entity);
  c->listener = "test/tls";
  return c;
}

inline AuthRef anonymous_ctx() {
  auto c = std::make_shared<AuthContext>();
  c->listener = "test/tls";
  return c;
}

inline proto::Request request(proto::Operation op, std::string to, std::string from, nlohmann::json body = nullptr,
                              int ty = 0) {
  proto::Request r;
  r.op = op;
  r.to = std::move(to);
  r.from = std::move(from);
  r.rqi = "rq-1";
  r.ty = ty;
  r.content = std::move(body);
  return r;
}

// call runs one request through |svc|.handle and waits for its reply.
// A handler that never answers fails the test after 20 s instead of
// hanging it; a second answer is ignored.
template <typename Service>
proto::Response call(Service& svc, const AuthRef& ctx, const proto::Request& req) {
  auto promise = std::make_shared<std::promise<proto::Response>>();
  auto answered = std::make_shared<std::atomic<bool>>(false);
  auto future = promise->get_future();
  svc.handle(ctx, req, [promise, answered](proto::Response rsp) {
    if (!answered->exchange(true)) promise->set_value(std::move(rsp));
  });
  if (future.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    ADD_FAILURE() << "no reply to " << req.to;
    return proto::Response{proto::Rsc::request_timeout, req.rqi, nullptr};
  }
  return future.get();
}

inline int rsc(const proto::Response& r) { return static_cast<int>(r.rsc); }

// dbg returns the m2m:dbg text of an error response.
inline std::string dbg(const proto::Response& r) {
  if (r.content.is_object() && r.content.contains("m2m:dbg") && r.content["m2m:dbg"].is_string()) {
    return r.content["m2m:dbg"].get<std::string>();
  }
  return {};
}

}  // namespace m2msec::service::testing
