// serve_http's exception barrier and its guard against lost requests,
// over an in-memory tls::Session (no socket: the loop only needs the
// Session interface).
#include "m2msec/proto/http_server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <string>

namespace m2msec::proto {
namespace {

// MemorySession feeds |input| to the first read, then reports the peer
// closed; it records everything written.
class MemorySession : public tls::Session {
 public:
  explicit MemorySession(std::string input) : input_(std::move(input)) {}
  const tls::PeerIdentity& peer() const override { return peer_; }
  Result<SecretBytes> export_keying_material(std::string_view, std::size_t) const override {
    return fail(Errc::connection_closed, "memory session");
  }
  void async_read(tls::ReadHandler handler) override {
    if (input_.empty()) return handler(fail(Errc::connection_closed, "eof"));
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
  void close() override {}

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
  std::mutex mu_;
  std::condition_variable cv_;
  std::string written_;
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

}  // namespace
}  // namespace m2msec::proto
