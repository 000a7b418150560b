// service::AdminServer: /healthz, /readyz, /metrics over real loopback
// sockets, and every refusal: unknown path, wrong method, a body, an
// oversized header, garbage, too many connections. MetricsWriter's
// exposition format (escaping) is checked against the Prometheus text
// format 0.0.4 rules ("label_value can be any sequence of UTF-8
// characters, but the backslash, the double-quote and the line feed
// characters have to be escaped as \\, \" and \n").
#include "m2msec/service/admin.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

namespace m2msec::service {
namespace {

int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void send_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

// read_response reads until the peer closes or one whole response (by
// Content-Length) has arrived, waiting at most 10 s.
std::string read_response(int fd) {
  std::string out;
  char buf[4096];
  while (true) {
    const auto head_end = out.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      const auto cl = out.find("Content-Length: ");
      if (cl != std::string::npos && cl < head_end) {
        const std::size_t len = std::stoul(out.substr(cl + 16));
        if (out.size() >= head_end + 4 + len) return out;
      }
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) return out;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

// closed_by_peer: the server closed the connection (EOF within 10 s).
bool closed_by_peer(int fd) {
  char buf[256];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) return false;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
}

std::string get(std::uint16_t port, const std::string& path, const std::string& method = "GET") {
  const int fd = connect_to(port);
  if (fd < 0) return "";
  send_all(fd, method + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string r = read_response(fd);
  ::close(fd);
  return r;
}

std::string status_line(const std::string& r) { return r.substr(0, r.find("\r\n")); }
std::string body(const std::string& r) {
  const auto p = r.find("\r\n\r\n");
  return p == std::string::npos ? "" : r.substr(p + 4);
}

struct AdminServerTest : ::testing::Test {
  void SetUp() override {
    AdminHandlers h;
    h.ready = [this]() -> Status {
      if (!store_up) return fail(Errc::store_error, "database is locked");
      return {};
    };
    h.metrics = [] {
      MetricsWriter w;
      w.family("m2msec_test_total", "counter", "a test counter");
      w.sample({{"role", "mef"}}, std::uint64_t{7});
      return w.text();
    };
    auto s = AdminServer::start("127.0.0.1:0", "mef", std::move(h));
    ASSERT_TRUE(s) << s.error().message();
    server = std::move(*s);
  }
  std::atomic<bool> store_up{true};
  std::unique_ptr<AdminServer> server;
};

TEST_F(AdminServerTest, HealthReadyMetrics) {
  const std::string h = get(server->port(), "/healthz");
  EXPECT_EQ(status_line(h), "HTTP/1.1 200 OK");
  EXPECT_EQ(body(h), "ok\n");
  const std::string r = get(server->port(), "/readyz");
  EXPECT_EQ(status_line(r), "HTTP/1.1 200 OK");
  EXPECT_EQ(body(r), "ready\n");
  const std::string m = get(server->port(), "/metrics");
  EXPECT_EQ(status_line(m), "HTTP/1.1 200 OK");
  EXPECT_NE(m.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  EXPECT_EQ(body(m), "# HELP m2msec_test_total a test counter\n# TYPE m2msec_test_total counter\n"
                     "m2msec_test_total{role=\"mef\"} 7\n");
}

TEST_F(AdminServerTest, NotReadyWhenTheStoreFailsOrWhileDraining) {
  store_up = false;
  std::string r = get(server->port(), "/readyz");
  EXPECT_EQ(status_line(r), "HTTP/1.1 503 Service Unavailable");
  EXPECT_NE(body(r).find("database is locked"), std::string::npos) << body(r);
  store_up = true;
  EXPECT_EQ(status_line(get(server->port(), "/readyz")), "HTTP/1.1 200 OK");
  EXPECT_FALSE(server->draining());
  server->set_draining();
  EXPECT_TRUE(server->draining());
  r = get(server->port(), "/readyz");
  EXPECT_EQ(status_line(r), "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(body(r), "draining\n");
  // Alive all the same.
  EXPECT_EQ(status_line(get(server->port(), "/healthz")), "HTTP/1.1 200 OK");
}

TEST_F(AdminServerTest, UnknownPathAndWrongMethodAreRefused) {
  EXPECT_EQ(status_line(get(server->port(), "/")), "HTTP/1.1 404 Not Found");
  EXPECT_EQ(status_line(get(server->port(), "/metrics/../secret")), "HTTP/1.1 404 Not Found");
  const std::string r = get(server->port(), "/metrics", "DELETE");
  EXPECT_EQ(status_line(r), "HTTP/1.1 405 Method Not Allowed");
  EXPECT_NE(r.find("Allow: GET"), std::string::npos);
  // A query string does not change the resource.
  EXPECT_EQ(status_line(get(server->port(), "/healthz?verbose=1")), "HTTP/1.1 200 OK");
}

TEST_F(AdminServerTest, KeepAliveServesSeveralRequests) {
  const int fd = connect_to(server->port());
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 3; ++i) {
    send_all(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(status_line(read_response(fd)), "HTTP/1.1 200 OK") << i;
  }
  ::close(fd);
}

TEST_F(AdminServerTest, ABodyAnOversizedHeaderOrGarbageIsRefusedAndClosed) {
  const std::vector<std::string> bad = {
      "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
      "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n",
      "\x16\x03\x01\x00\x05hello\r\n\r\n",
  };
  for (const std::string& req : bad) {
    const int fd = connect_to(server->port());
    ASSERT_GE(fd, 0);
    send_all(fd, req);
    const std::string r = read_response(fd);
    EXPECT_EQ(status_line(r), "HTTP/1.1 400 Bad Request") << req.substr(0, 30);
    EXPECT_TRUE(closed_by_peer(fd));
    ::close(fd);
  }
  EXPECT_EQ(status_line(get(server->port(), "/healthz")), "HTTP/1.1 200 OK");
}

// At 64 open connections the next one is closed at once; once some go,
// requests are served again.
TEST_F(AdminServerTest, ConnectionsAreBounded) {
  std::vector<int> held;
  for (int i = 0; i < 64; ++i) {
    const int fd = connect_to(server->port());
    ASSERT_GE(fd, 0);
    held.push_back(fd);
  }
  // The server has accepted all 64 once each answered a request.
  for (int fd : held) {
    send_all(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(status_line(read_response(fd)), "HTTP/1.1 200 OK");
  }
  const int extra = connect_to(server->port());
  ASSERT_GE(extra, 0);
  EXPECT_TRUE(closed_by_peer(extra));
  ::close(extra);
  for (int fd : held) ::close(fd);
  // Served again once the sessions have seen their peers go.
  std::string r;
  for (int i = 0; i < 100 && status_line(r) != "HTTP/1.1 200 OK"; ++i) {
    r = get(server->port(), "/healthz");
    if (status_line(r) != "HTTP/1.1 200 OK") ::usleep(20000);
  }
  EXPECT_EQ(status_line(r), "HTTP/1.1 200 OK");
}

TEST(AdminListener, OffMeansNoneAndABadAddressIsNamed) {
  auto off = start_admin_listener("off", "maf", {});
  ASSERT_TRUE(off);
  EXPECT_EQ(*off, nullptr);
  auto name = start_admin_listener("localhost:9180", "maf", {});
  ASSERT_FALSE(name);
  EXPECT_EQ(name.error().code(), Errc::invalid_argument);
  EXPECT_NE(name.error().message().find("maf.admin_listen"), std::string::npos) << name.error().message();
  auto junk = start_admin_listener("127.0.0.1", "maf", {});
  ASSERT_FALSE(junk);
  EXPECT_NE(junk.error().message().find("maf.admin_listen"), std::string::npos);
  // A port in use is an io_error naming the setting.
  auto first = start_admin_listener("127.0.0.1:0", "mef", {});
  ASSERT_TRUE(first && *first);
  auto taken = start_admin_listener("127.0.0.1:" + std::to_string((*first)->port()), "cse", {});
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code(), Errc::io_error);
}

TEST(MetricsWriter, EscapesLabelValuesAndHelp) {
  MetricsWriter w;
  w.family("m2msec_x", "gauge", "line one\nback\\slash");
  w.sample({{"peer", "a\"b\\c\nd"}, {"role", "maf"}}, 1.5);
  w.sample({}, std::uint64_t{3});
  EXPECT_EQ(w.text(),
            "# HELP m2msec_x line one\\nback\\\\slash\n# TYPE m2msec_x gauge\n"
            "m2msec_x{peer=\"a\\\"b\\\\c\\nd\",role=\"maf\"} 1.5\n"
            "m2msec_x 3\n");
}

TEST_F(AdminServerTest, AdminGetReadsTheAnswers) {
  const std::string ep = "127.0.0.1:" + std::to_string(server->port());
  auto r = admin_get(ep, "/readyz");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ready\n");
  store_up = false;
  r = admin_get(ep, "/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  r = admin_get(ep, "/nope");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  auto m = admin_get(ep, "/metrics");
  ASSERT_TRUE(m);
  auto samples = parse_metrics(m->body);
  ASSERT_TRUE(samples) << samples.error().message();
  ASSERT_EQ(samples->size(), 1u);
  EXPECT_EQ((*samples)[0].name, "m2msec_test_total");
  EXPECT_EQ((*samples)[0].labels.at("role"), "mef");
  EXPECT_EQ((*samples)[0].value, 7);
}

TEST(AdminGet, NobodyListeningIsConnectFailed) {
  std::uint16_t port = 0;
  {
    auto s = AdminServer::start("127.0.0.1:0", "mef", {});
    ASSERT_TRUE(s);
    port = (*s)->port();
  }  // closed: nothing listens there now
  auto r = admin_get("127.0.0.1:" + std::to_string(port), "/healthz");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::connect_failed);
  EXPECT_FALSE(admin_get("localhost:1", "/healthz"));
}

TEST(ParseMetrics, ReadsWhatTheWriterWritesAndRefusesJunk) {
  MetricsWriter w;
  w.family("m2msec_x", "gauge", "x");
  w.sample({{"peer", "a\"b\\c\nd"}, {"role", "maf"}}, 1.5);
  w.sample({}, std::uint64_t{3});
  auto s = parse_metrics(w.text());
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].labels.at("peer"), "a\"b\\c\nd");
  EXPECT_EQ((*s)[0].labels.at("role"), "maf");
  EXPECT_EQ((*s)[0].value, 1.5);
  EXPECT_TRUE((*s)[1].labels.empty());
  EXPECT_EQ((*s)[1].value, 3);
  for (const char* junk : {"m2msec_x{role=\"maf\" 1\n", "m2msec_x{role=maf} 1\n", "m2msec_x 1x\n", "{} 1\n",
                           "m2msec_x\n"}) {
    EXPECT_FALSE(parse_metrics(junk)) << junk;
  }
}

TEST(Counters, CountPerKey) {
  Counters c;
  c.add({"tls", "psk"});
  c.add({"tls", "psk"}, 2);
  c.add({"dtls", "certificate"});
  const auto s = c.snapshot();
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(s.at({"tls", "psk"}), 3u);
  EXPECT_EQ(s.at({"dtls", "certificate"}), 1u);
}

}  // namespace
}  // namespace m2msec::service
