// Km fetches from the MEF over a real link::Link to a stand-in MEF (a
// TlsServer on loopback serving HTTP as mef.example.com, client
// certificates required; the tls tests' PKI, where the MAF is
// maf.example.com). The MAF's handshakes are psk_lookup calls with KeIDs
// of that MEF, and its store is a real SQLite one; what the stand-in
// records is what reached the MEF (docs/protocol.md "Batches of Km
// fetches").
#include <gtest/gtest.h>

#include <future>
#include <set>

#include "../service/service_harness.h"
#include "../tls/tls_harness.h"
#include "maf_test_util.h"
#include "stub_peer.h"
#include "m2msec/core/encoding.h"
#include "m2msec/maf/maf.h"
#include "m2msec/proto/http_server.h"
#include "m2msec/proto/messages.h"

namespace m2msec::maf {
namespace {

using namespace std::chrono_literals;
using namespace service::testing;

// How StubMef answers a batch.
enum class BatchAnswer {
  results,        // 2000, with each entry's own answer
  refuse_4000,    // as a MEF that knows only the RETRIEVE
  refuse_4103,    // refused, but not for its form
  short_results,  // 2000 with fewer results than KeIDs
};

// ke_id is the KeID whose relative part is 16 bytes of |n| (base64).
std::string ke_id(std::uint8_t n) {
  return base64_encode(std::vector<std::uint8_t>(16, n)) + "@mef.example.com";
}
// km_id is the KmID the MAF assigns to ke_id(n): the relative part in hex.
std::string km_id(std::uint8_t n) { return hex_encode(std::vector<std::uint8_t>(16, n)) + "@maf.example.com"; }
// km is the Km StubMef gives for ke_id(n).
SecretBytes km(std::uint8_t n) {
  std::vector<std::uint8_t> v(32);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::uint8_t>(n * 7 + i);
  return SecretBytes(std::move(v));
}
std::uint8_t number_of(const std::string& ke) { return base64_decode(ke.substr(0, ke.find('@')))->at(0); }

const std::string kUa = hex_encode(crypto::ua_security_protocol_id(proto::ua_binding(tls::Transport::tls)));

// StubMef answers RETRIEVE /mef/fetchCredentials/<KeID>/21 with the Km of
// ke_id(n) for /d-<n> (4004 for the KeIDs set_unknown() names), and a
// batch as set_batch_answer() says; hold_next() and release() as
// StubPeer's.
class StubMef {
 public:
  explicit StubMef(BatchAnswer batch_answer)
      : batch_answer_(batch_answer),
        peer_("mef.example.com", "mef", [this](const proto::Request& req, const proto::Reply& reply) { answer(req, reply); }) {}

  std::uint16_t port() const { return peer_.port(); }
  void set_batch_answer(BatchAnswer a) { batch_answer_ = a; }
  void set_unknown(const std::string& ke) {
    std::lock_guard lock(mu_);
    unknown_.insert(ke);
  }
  void hold_next() { peer_.hold_next(); }
  void release() { peer_.release(); }
  bool wait_requests(std::size_t n) { return peer_.wait_requests(n); }
  std::vector<proto::Request> requests() { return peer_.requests(); }

 private:
  proto::Response credential(const proto::Request& req, const std::string& ke) {
    {
      std::lock_guard lock(mu_);
      if (unknown_.count(ke) != 0) return proto::error_response(req, proto::Rsc::not_found, "KeID not found");
    }
    const std::uint8_t n = number_of(ke);
    return proto::ok_response(req, proto::Rsc::ok,
                              proto::CredentialResponse{km(n), "/d-" + std::to_string(n), 0, ke}.to_json());
  }

  void answer(const proto::Request& req, const proto::Reply& reply) {
    if (req.to.starts_with(proto::kMefFetchPrefix)) {
      const std::string rest = req.to.substr(proto::kMefFetchPrefix.size());
      return reply(credential(req, *proto::percent_decode(rest.substr(0, rest.rfind('/')))));
    }
    auto body = proto::CredentialFetchBatch::from_json(req.content);
    if (!body) return reply(proto::error_response(req, proto::Rsc::bad_request, body.error().message()));
    proto::CredentialFetchResults r;
    for (const auto& e : body->entries) {
      proto::Response one = credential(req, e.ke_id);
      r.entries.push_back({static_cast<int>(one.rsc), one.content});
    }
    switch (batch_answer_.load()) {
      case BatchAnswer::results:
        return reply(proto::ok_response(req, proto::Rsc::ok, r.to_json()));
      case BatchAnswer::refuse_4000:
        return reply(proto::error_response(req, proto::Rsc::bad_request, "want /mef/fetchCredentials/<KeID>/<SUID>"));
      case BatchAnswer::refuse_4103:
        return reply(proto::error_response(req, proto::Rsc::originator_has_no_privilege, "not now"));
      case BatchAnswer::short_results:
        r.entries.pop_back();
        return reply(proto::ok_response(req, proto::Rsc::ok, r.to_json()));
    }
  }

  std::atomic<BatchAnswer> batch_answer_;
  std::mutex mu_;
  std::set<std::string> unknown_;
  testing::StubPeer peer_;  // last: it answers through the members above
};

class MafFetchTest : public testing::LinkedMafTest {
 protected:
  void start(std::uint16_t mef_port) {
    MafConfig cfg = testing::test_config();
    // A held fetch must stay in flight for as long as a test holds it.
    cfg.link_timeout = 30s;
    cfg.mefs.push_back({"mef.example.com", "127.0.0.1:" + std::to_string(mef_port)});
    start_service(cfg);
  }

  // lookup is the MAF handshake's key lookup for ke_id(n).
  std::future<Result<SecretBytes>> lookup(std::uint8_t n) {
    auto p = std::make_shared<std::promise<Result<SecretBytes>>>();
    auto f = p->get_future();
    svc_->psk_lookup(tls::PskRequest{ke_id(n), "maf.example.com", tls::Transport::tls},
                     [p](Result<SecretBytes> r) { p->set_value(std::move(r)); });
    return f;
  }

  static void expect_km(std::future<Result<SecretBytes>>& f, std::uint8_t n) {
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready) << "lookup " << int(n);
    Result<SecretBytes> r = f.get();
    ASSERT_TRUE(r) << "lookup " << int(n) << ": " << r.error().message();
    EXPECT_TRUE(*r == km(n)) << "lookup " << int(n);
  }
  // failure is why the lookup failed (Errc::timeout if it did not end;
  // Errc::invalid_argument if it succeeded: never a fetch failure).
  static Errc failure(std::future<Result<SecretBytes>>& f) {
    if (f.wait_for(10s) != std::future_status::ready) return Errc::timeout;
    Result<SecretBytes> r = f.get();
    return r ? Errc::invalid_argument : r.error().code();
  }

  // hold_first sends ke_id(first)'s fetch, which the MEF holds, and then
  // starts the lookups of |rest|, which wait behind it.
  std::vector<std::future<Result<SecretBytes>>> hold_first(StubMef& mef, std::uint8_t first,
                                                           const std::vector<std::uint8_t>& rest) {
    mef.hold_next();
    const std::size_t before = mef.requests().size();
    std::vector<std::future<Result<SecretBytes>>> out;
    out.push_back(lookup(first));
    EXPECT_TRUE(mef.wait_requests(before + 1)) << "the first fetch did not arrive";
    for (std::size_t i = 0; i < rest.size(); ++i) {  // one at a time: the batch keeps their order
      out.push_back(lookup(rest[i]));
      EXPECT_TRUE(wait_queued(i + 1)) << "lookup " << int(rest[i]) << " did not queue behind the first fetch";
    }
    return out;
  }

  // wait_queued waits until |n| KeIDs wait for the fetch in flight.
  bool wait_queued(std::size_t n) {
    for (auto until = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < until;) {
      if (svc_->fetch_stats().queued == n) return true;
      std::this_thread::sleep_for(1ms);
    }
    return false;
  }

  static bool is_retrieve_of(const proto::Request& r, std::uint8_t n) {
    return r.op == proto::Operation::retrieve &&
           r.to == proto::fetch_credentials_path(ke_id(n), proto::kSuidMafKm, tls::Transport::tls);
  }

};

// The KeIDs whose first handshakes arrive while a fetch is in flight go to
// the MEF together, in one request, each answered as its own RETRIEVE
// would be; each handshake gets its Km once it is stored.
TEST_F(MafFetchTest, KeIdsThatArriveWhileAFetchIsInFlightGoInOneBatch) {
  StubMef mef(BatchAnswer::results);
  start(mef.port());
  mef.set_unknown(ke_id(4));
  auto f = hold_first(mef, 1, {2, 3, 4});
  mef.release();
  for (std::uint8_t n : {1, 2, 3}) expect_km(f[n - 1], n);
  EXPECT_EQ(failure(f[3]), Errc::unknown_psk_identity);

  const auto reqs = mef.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_TRUE(is_retrieve_of(reqs[0], 1)) << reqs[0].to;  // a KeID alone: the RETRIEVE of 8.3.2.1
  EXPECT_EQ(reqs[1].op, proto::Operation::create);
  EXPECT_EQ(reqs[1].to, proto::kMefFetchBatchPath);
  EXPECT_EQ(reqs[1].ty, proto::kTyCredentialFetch);
  EXPECT_EQ(reqs[1].from, "maf.example.com");
  EXPECT_EQ(reqs[1].content.dump(),
            (proto::CredentialFetchBatch{{{ke_id(2), kUa}, {ke_id(3), kUa}, {ke_id(4), kUa}}}.to_json().dump()));
  // Km is stored (durably) under the KmID the MAF assigned, for the
  // enrolee the MEF named.
  for (std::uint8_t n : {1, 2, 3}) {
    auto c = store_->maf().find_client(km_id(n), service::now_unix());
    ASSERT_TRUE(c) << km_id(n) << ": " << c.error().message();
    EXPECT_TRUE(c->km == km(n));
    EXPECT_EQ(c->entity_id, "/d-" + std::to_string(n));
    EXPECT_EQ(c->source, store::KmSource::mef);
  }
  EXPECT_EQ(store_->maf().find_client(km_id(4), service::now_unix()).error().code(), Errc::not_found);
  const MafService::FetchStats st = svc_->fetch_stats();
  EXPECT_EQ(st.requests, 2u);
  EXPECT_EQ(st.keys, 4u);
  EXPECT_EQ(st.queued, 0u);
  // The refused KeID is refused here for a while, without asking again;
  // a stored one is answered from the store.
  auto again = lookup(4);
  EXPECT_EQ(failure(again), Errc::unknown_psk_identity);
  auto stored = lookup(2);
  expect_km(stored, 2);
  EXPECT_EQ(mef.requests().size(), 2u);
}

// A MEF that answers the batch 4000 (one that predates it) gets that
// batch's KeIDs, and every later one, as one RETRIEVE each.
TEST_F(MafFetchTest, AMefWithoutBatchesGetsOneRetrievePerKeId) {
  StubMef mef(BatchAnswer::refuse_4000);
  start(mef.port());
  auto f = hold_first(mef, 1, {2, 3});
  mef.release();
  for (std::uint8_t n : {1, 2, 3}) expect_km(f[n - 1], n);
  auto g = hold_first(mef, 5, {6, 7});
  mef.release();
  for (std::uint8_t n : {5, 6, 7}) expect_km(g[n - 5], n);

  const auto reqs = mef.requests();
  ASSERT_EQ(reqs.size(), 7u);
  EXPECT_TRUE(is_retrieve_of(reqs[0], 1));
  EXPECT_EQ(reqs[1].to, proto::kMefFetchBatchPath);  // refused: 4000
  EXPECT_TRUE(is_retrieve_of(reqs[2], 2));
  EXPECT_TRUE(is_retrieve_of(reqs[3], 3));
  for (std::size_t i = 4; i < 7; ++i) EXPECT_TRUE(is_retrieve_of(reqs[i], static_cast<std::uint8_t>(i + 1))) << reqs[i].to;
  EXPECT_EQ(svc_->fetch_stats().requests, 7u);
}

// A batch answered without a result per KeID fails its handshakes without
// remembering a refusal (the next handshake fetches again); a batch
// refused as a whole (4103) refuses each of its KeIDs.
TEST_F(MafFetchTest, ABatchAnsweredWithoutAResultPerKeIdOrRefusedFailsItsHandshakes) {
  StubMef mef(BatchAnswer::short_results);
  start(mef.port());
  auto f = hold_first(mef, 1, {2, 3});
  mef.release();
  expect_km(f[0], 1);
  EXPECT_EQ(failure(f[1]), Errc::connect_failed);
  EXPECT_EQ(failure(f[2]), Errc::connect_failed);
  EXPECT_EQ(store_->maf().find_client(km_id(2), service::now_unix()).error().code(), Errc::not_found);
  mef.set_batch_answer(BatchAnswer::results);
  auto retry = lookup(2);
  expect_km(retry, 2);

  mef.set_batch_answer(BatchAnswer::refuse_4103);
  auto g = hold_first(mef, 5, {6, 7});
  mef.release();
  expect_km(g[0], 5);
  EXPECT_EQ(failure(g[1]), Errc::unknown_psk_identity);
  EXPECT_EQ(failure(g[2]), Errc::unknown_psk_identity);
  const std::size_t sent = mef.requests().size();
  auto refused = lookup(6);
  EXPECT_EQ(failure(refused), Errc::unknown_psk_identity);
  EXPECT_EQ(mef.requests().size(), sent);  // remembered: not asked again
}

}  // namespace
}  // namespace m2msec::maf
