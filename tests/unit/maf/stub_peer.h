// stub_peer.h: what the MAF tests over a real link share. StubPeer stands
// in for the MAF's link peers (a MEF, an Entity B): a TlsServer on
// loopback serving HTTP under one FQDN with the tls tests' PKI, client
// certificates required. It records every request, answers through the
// test's function, and with hold_next() keeps the next request unanswered
// until release(). LinkedMafTest is a MafService with a real SQLite store
// and a link carrying the MAF's certificate.
#pragma once

#include <gtest/gtest.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "../service/service_harness.h"
#include "../tls/tls_harness.h"
#include "m2msec/maf/maf.h"
#include "m2msec/proto/http_server.h"
#include "m2msec/tls/server.h"

namespace m2msec::maf::testing {

class StubPeer {
 public:
  using Answer = std::function<void(const proto::Request&, const proto::Reply&)>;

  // |fqdn| and |cert_name| name the server's identity (tls::test::cert).
  StubPeer(std::string fqdn, const char* cert_name, Answer answer)
      : answer_(std::move(answer)), server_(start(std::move(fqdn), cert_name, [this](std::shared_ptr<tls::Session> s) {
          proto::serve_http(std::move(s), [this](const proto::Request& req, proto::Reply reply) {
            std::unique_lock lock(mu_);
            requests_.push_back(req);
            cv_.notify_all();
            if (hold_) {
              hold_ = false;
              held_.emplace_back(req, std::move(reply));
              return;
            }
            lock.unlock();
            answer_(req, reply);
          });
        })) {}
  ~StubPeer() {
    release();
    server_->stop();
  }

  std::uint16_t port() const { return server_->port(); }
  void hold_next() {
    std::lock_guard lock(mu_);
    hold_ = true;
  }
  void release() {
    std::vector<std::pair<proto::Request, proto::Reply>> held;
    {
      std::lock_guard lock(mu_);
      held.swap(held_);
    }
    for (auto& [req, reply] : held) answer_(req, reply);
  }
  // wait_requests waits (10 s at most) until |n| requests have arrived.
  bool wait_requests(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return requests_.size() >= n; });
  }
  std::vector<proto::Request> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  static std::unique_ptr<tls::TlsServer> start(std::string fqdn, const char* cert_name,
                                               std::function<void(std::shared_ptr<tls::Session>)> on_session) {
    tls::ServerOptions o;
    tls::ServerAuthority a;
    a.fqdn = std::move(fqdn);
    a.certificate = tls::test::cert(cert_name);
    a.client_trust = tls::test::trust();
    a.client_auth = tls::ClientAuth::required;
    o.authorities.push_back(std::move(a));
    o.threads = 1;
    o.handshake_timeout = std::chrono::seconds(5);
    o.on_session = std::move(on_session);
    auto server = tls::TlsServer::create(std::move(o));
    if (!server) {
      ADD_FAILURE() << server.error().message();
      std::abort();
    }
    (*server)->start();
    return std::move(*server);
  }

  Answer answer_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  std::vector<proto::Request> requests_;
  std::vector<std::pair<proto::Request, proto::Reply>> held_;
  std::unique_ptr<tls::TlsServer> server_;  // last: started after the members it uses
};

class LinkedMafTest : public ::testing::Test {
 protected:
  // start_service starts the MAF of |cfg| (its store in the test's
  // directory), its link calls made as maf.example.com.
  void start_service(const MafConfig& cfg) {
    store_ = store::testing::open_store(dir_.file("maf.db"));
    ASSERT_TRUE(store_);
    link::LinkOptions lo;
    lo.certificate = tls::test::cert("maf");
    lo.trust = tls::test::trust();
    auto l = link::Link::create(std::move(lo));
    ASSERT_TRUE(l);
    link_ = std::move(*l);
    svc_ = std::make_unique<MafService>(cfg, *store_, *pool_, link_.get());
  }

  void TearDown() override {
    if (svc_) svc_->close();
    pool_.reset();
  }

  service::testing::TempDir dir_;
  std::unique_ptr<link::Link> link_;
  std::unique_ptr<service::WorkerPool> pool_ = std::make_unique<service::WorkerPool>(4);
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<MafService> svc_;
};

}  // namespace m2msec::maf::testing
