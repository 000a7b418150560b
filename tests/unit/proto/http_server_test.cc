// serve_http's exception barrier and its guard against lost requests,
// over an in-memory tls::Session (no socket: the loop only needs the
// Session interface).
#include "m2msec/proto/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

namespace m2msec::proto {
namespace {

// MemorySession feeds |input| to the first read, then reports the peer
// closed; it records everything written.
class MemorySession : public tls::Session {
 public:
  // With |eof_after_input| false, reads after the input wait forever (a
  // peer that stays connected and silent).
  explicit MemorySession(std::string input, bool eof_after_input = true)
      : input_(std::move(input)), eof_after_input_(eof_after_input) {}
  const tls::PeerIdentity& peer() const override { return peer_; }
  Result<SecretBytes> export_keying_material(std::string_view, std::size_t) const override {
    return fail(Errc::connection_closed, "memory session");
  }
  void async_read(tls::ReadHandler handler) override {
    if (input_.empty()) {
      if (eof_after_input_) return handler(fail(Errc::connection_closed, "eof"));
      parked_ = std::move(handler);  // never answered
      return;
    }
    tls::ByteVector bytes(input_.begin(), input_.end());
    input_.clear();
    handler(std::move(bytes));
  }
  void async_write(tls::ByteVector data, tls::WriteHandler handler) override {
    {
      std::lock_guard lock(mu_);
      written_.append(data.begin(), data.end());
    }
    cv_.notify_all();
    handler({});
  }
  void close() override {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }
  // hang_up ends a parked read as the peer's EOF (it holds the
  // connection, which holds this session).
  void hang_up() {
    tls::ReadHandler h = std::move(parked_);
    parked_ = nullptr;
    if (h) h(fail(Errc::connection_closed, "eof"));
  }
  // wait_closed waits until the server closed the session.
  bool wait_closed() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return closed_; });
  }
  bool closed() {
    std::lock_guard lock(mu_);
    return closed_;
  }

  // wait_for_text waits until |needle| has been written.
  bool wait_for_text(const std::string& needle) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return written_.find(needle) != std::string::npos; });
  }
  std::string written() {
    std::lock_guard lock(mu_);
    return written_;
  }

 private:
  tls::PeerIdentity peer_;
  std::string input_;
  bool eof_after_input_ = true;
  tls::ReadHandler parked_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string written_;
  bool closed_ = false;
};

std::string get(const std::string& rqi) {
  return "GET /x HTTP/1.1\r\nHost: h\r\nX-M2M-Origin: o\r\nX-M2M-RI: " + rqi + "\r\n\r\n";
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

TEST(HttpServer, AThrowingHandlerIsAnswered5000AndTheSessionGoesOn) {
  auto s = std::make_shared<MemorySession>(get("r1") + get("r2"));
  serve_http(s, [](const Request& req, Reply reply) {
    if (req.rqi == "r1") throw std::runtime_error("boom");
    reply(ok_response(req, Rsc::ok, nullptr));
  });
  ASSERT_TRUE(s->wait_for_text("X-M2M-RI: r2"));
  const std::string out = s->written();
  EXPECT_NE(out.find("X-M2M-RSC: 5000\r\nX-M2M-RI: r1"), std::string::npos) << out;
  EXPECT_NE(out.find("X-M2M-RSC: 2000\r\nX-M2M-RI: r2"), std::string::npos) << out;
  EXPECT_EQ(out.find("boom"), std::string::npos) << "the exception text is not shown to the peer";
}

TEST(HttpServer, ADroppedReplyIsAnswered5000) {
  auto s = std::make_shared<MemorySession>(get("lost"));
  serve_http(s, [](const Request&, Reply) { /* drops the reply unanswered */ });
  ASSERT_TRUE(s->wait_for_text("X-M2M-RI: lost"));
  EXPECT_NE(s->written().find("X-M2M-RSC: 5000\r\nX-M2M-RI: lost"), std::string::npos) << s->written();
}

TEST(HttpServer, ASecondReplyIsIgnored) {
  auto s = std::make_shared<MemorySession>(get("r1") + get("r2"));
  serve_http(s, [](const Request& req, Reply reply) {
    reply(ok_response(req, Rsc::ok, nullptr));
    reply(error_response(req, Rsc::internal_server_error, "again"));
  });
  ASSERT_TRUE(s->wait_for_text("X-M2M-RI: r2"));
  const std::string out = s->written();
  EXPECT_EQ(count(out, "HTTP/1.1 "), 2u) << out;
  EXPECT_EQ(count(out, "X-M2M-RSC: 5000"), 0u) << out;
}

// RFC 9112 9.6: a request with "Connection: close" is answered with
// "Connection: close" and the session ends there; a request pipelined
// behind it is not served.
TEST(HttpServer, ClosesAfterAnsweringARequestThatAsksToClose) {
  const std::string closing =
      "GET /x HTTP/1.1\r\nHost: h\r\nX-M2M-Origin: o\r\nX-M2M-RI: last\r\nConnection: close\r\n\r\n";
  auto s = std::make_shared<MemorySession>(get("r1") + closing + get("after"));
  std::atomic<int> served{0};
  serve_http(s, [&](const Request& req, Reply reply) {
    ++served;
    reply(ok_response(req, Rsc::ok, nullptr));
  });
  ASSERT_TRUE(s->wait_closed());
  const std::string out = s->written();
  EXPECT_EQ(count(out, "HTTP/1.1 "), 2u) << out;
  EXPECT_EQ(served.load(), 2);
  EXPECT_EQ(count(out, "Connection: close"), 1u) << out;
  EXPECT_NE(out.find("X-M2M-RI: last"), std::string::npos) << out;
  EXPECT_EQ(out.find("X-M2M-RI: after"), std::string::npos) << out;
  EXPECT_LT(out.find("X-M2M-RI: r1"), out.find("Connection: close")) << "only the last answer says close";
}

// An answer given later, from another thread, still closes the session.
TEST(HttpServer, ALateAnswerToAClosingRequestClosesTheSession) {
  auto s = std::make_shared<MemorySession>(
      "GET /x HTTP/1.1\r\nHost: h\r\nX-M2M-Origin: o\r\nX-M2M-RI: late\r\nConnection: close\r\n\r\n",
      /*eof_after_input=*/false);
  serve_http(s, [](const Request& req, Reply reply) {
    std::thread([req, reply] { reply(ok_response(req, Rsc::created, nullptr)); }).detach();
  });
  ASSERT_TRUE(s->wait_closed());
  EXPECT_NE(s->written().find("X-M2M-RSC: 2001"), std::string::npos) << s->written();
  EXPECT_NE(s->written().find("Connection: close"), std::string::npos) << s->written();
  s->hang_up();
}

// A keep-alive session stays open after its answers, waiting for more.
TEST(HttpServer, KeepsTheSessionOpenWithoutConnectionClose) {
  auto s = std::make_shared<MemorySession>(get("r1") + get("r2"), /*eof_after_input=*/false);
  serve_http(s, [](const Request& req, Reply reply) { reply(ok_response(req, Rsc::ok, nullptr)); });
  ASSERT_TRUE(s->wait_for_text("X-M2M-RI: r2"));
  const std::string out = s->written();
  EXPECT_EQ(count(out, "HTTP/1.1 200"), 2u) << out;
  EXPECT_EQ(out.find("Connection:"), std::string::npos) << out;
  EXPECT_FALSE(s->closed());
  s->hang_up();
  EXPECT_TRUE(s->wait_closed());
}

}  // namespace
}  // namespace m2msec::proto
