// admin.cc: the admin listener (Boost.Beast, one thread). Modelled on
// Beast's http_server_async example: one session object per connection,
// a deadline on every read, one request at a time.
#include "m2msec/service/admin.h"

#include "tcp_listen.h"


#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <thread>

#include "m2msec/core/endpoint.h"
#include "m2msec/core/printable.h"
#include "m2msec/core/thread.h"

namespace m2msec::service {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kHeaderLimit = 8192;
constexpr std::size_t kMaxConnections = 64;
constexpr std::chrono::seconds kRequestTimeout{10};

}  // namespace

// Impl outlives every handler: the handlers hold a plain pointer to it,
// and ~Impl destroys the acceptor and the io_context (and with it every
// pending handler and session) first, while the rest is still alive.
struct AdminServer::Impl {
  std::optional<asio::io_context> ioc{std::in_place, 1};
  std::optional<tcp::acceptor> acceptor{std::in_place, *ioc};
  std::thread thread;
  std::string role;
  AdminHandlers handlers;
  std::atomic<bool> draining{false};
  std::atomic<std::size_t> connections{0};
  std::uint16_t port = 0;

  ~Impl() {
    acceptor.reset();
    ioc.reset();
  }
  void do_accept();
  http::response<http::string_body> answer(const http::request<http::empty_body>& req);
};

namespace {

// Session serves one admin connection: read a request (bounded), answer,
// repeat while the client keeps the connection alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, AdminServer::Impl* server) : stream_(std::move(socket)), server_(server) {}
  ~Session() { --server_->connections; }

  void start() { read(); }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(0);
    stream_.expires_after(kRequestTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted) {
      return close();
    }
    if (ec) {
      // Malformed, oversized or with a body: a clear refusal, then close.
      http::response<http::string_body> rsp{http::status::bad_request, 11};
      rsp.set(http::field::content_type, "text/plain; charset=utf-8");
      rsp.body() = "bad request: " + printable(ec.message(), 128) + "\n";
      rsp.keep_alive(false);
      return write(std::move(rsp));
    }
    http::request<http::empty_body> req = parser_->release();
    write(server_->answer(req));
  }

  void write(http::response<http::string_body> rsp) {
    rsp.prepare_payload();
    auto shared = std::make_shared<http::response<http::string_body>>(std::move(rsp));
    stream_.expires_after(kRequestTimeout);
    http::async_write(stream_, *shared, [self = shared_from_this(), shared](beast::error_code ec, std::size_t) {
      if (ec || !shared->keep_alive()) return self->close();
      self->read();
    });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_{kHeaderLimit};
  std::optional<http::request_parser<http::empty_body>> parser_;
  AdminServer::Impl* server_;
};

http::response<http::string_body> text_response(http::status status, unsigned version, bool keep_alive,
                                                std::string body,
                                                std::string_view type = "text/plain; charset=utf-8") {
  http::response<http::string_body> rsp{status, version};
  rsp.set(http::field::content_type, type);
  rsp.set(http::field::cache_control, "no-store");
  rsp.keep_alive(keep_alive);
  rsp.body() = std::move(body);
  return rsp;
}

}  // namespace

void AdminServer::Impl::do_accept() {
  acceptor->async_accept(asio::make_strand(*ioc), [self = this](beast::error_code ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      if (self->connections.load() >= kMaxConnections) {
        beast::error_code ignored;
        s.close(ignored);  // over the bound: refused at once
      } else {
        ++self->connections;
        std::make_shared<Session>(std::move(s), self)->start();
      }
    }
    self->do_accept();
  });
}

http::response<http::string_body> AdminServer::Impl::answer(const http::request<http::empty_body>& req) {
  const unsigned v = req.version();
  const bool ka = req.keep_alive();
  const std::string_view target(req.target().data(), req.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  if (path != "/healthz" && path != "/readyz" && path != "/metrics") {
    return text_response(http::status::not_found, v, ka, "not found; try /healthz, /readyz or /metrics\n");
  }
  if (req.method() != http::verb::get) {
    auto rsp = text_response(http::status::method_not_allowed, v, ka, "only GET\n");
    rsp.set(http::field::allow, "GET");
    return rsp;
  }
  try {
    if (path == "/healthz") return text_response(http::status::ok, v, ka, "ok\n");
    if (path == "/readyz") {
      if (draining.load()) return text_response(http::status::service_unavailable, v, ka, "draining\n");
      if (handlers.ready) {
        if (Status st = handlers.ready(); !st) {
          return text_response(http::status::service_unavailable, v, ka,
                               "not ready: " + printable(st.error().message(), 256) + "\n");
        }
      }
      return text_response(http::status::ok, v, ka, "ready\n");
    }
    std::string body = handlers.metrics ? handlers.metrics() : std::string();
    return text_response(http::status::ok, v, ka, std::move(body), "text/plain; version=0.0.4; charset=utf-8");
  } catch (const std::exception& e) {
    spdlog::error("{}: admin {} failed: {}", role, path, printable(e.what(), 256));
    return text_response(http::status::internal_server_error, v, false, "internal error\n");
  }
}

Result<std::unique_ptr<AdminServer>> AdminServer::start(const std::string& listen, std::string role,
                                                        AdminHandlers handlers) {
  auto impl = std::make_unique<Impl>();
  impl->role = std::move(role);
  impl->handlers = std::move(handlers);
  auto port = listen_tcp(*impl->acceptor, listen, "admin listener");
  if (!port) return std::unexpected(port.error());
  impl->port = *port;
  impl->do_accept();
  impl->thread = std::thread([impl = impl.get()] {
    set_thread_name("m2m-admin");
    while (true) {
      try {
        impl->ioc->run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("{}: admin listener: {}", impl->role, printable(e.what(), 256));
      }
    }
  });
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(impl)));
}

Result<std::unique_ptr<AdminServer>> start_admin_listener(const std::string& listen, std::string role,
                                                          AdminHandlers handlers) {
  if (listen == "off") return std::unique_ptr<AdminServer>();
  auto a = AdminServer::start(listen, role, std::move(handlers));
  if (!a) return fail(a.error().code(), role + ".admin_listen \"" + listen + "\": " + a.error().detail());
  spdlog::info("{}: admin listener on port {} (/healthz, /readyz, /metrics)", role, (*a)->port());
  return a;
}

AdminServer::AdminServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AdminServer::~AdminServer() {
  impl_->ioc->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_.reset();  // closes the acceptor and every admin connection
}

std::uint16_t AdminServer::port() const { return impl_->port; }
void AdminServer::set_draining() { impl_->draining = true; }
bool AdminServer::draining() const { return impl_->draining.load(); }

// -- MetricsWriter ------------------------------------------------------------

namespace {

// append_escaped appends |text| with the exposition format's escapes:
// backslash and line feed always, the double quote in label values.
void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

}  // namespace

void MetricsWriter::family(std::string_view name, std::string_view type, std::string_view help) {
  name_ = std::string(name);
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_escaped(out_, help, /*quote=*/false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void MetricsWriter::write_labels(const Labels& labels) {
  out_ += name_;
  if (labels.empty()) return;
  out_ += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out_ += ',';
    first = false;
    out_ += k;
    out_ += "=\"";
    append_escaped(out_, v, /*quote=*/true);
    out_ += '"';
  }
  out_ += '}';
}

void MetricsWriter::sample(const Labels& labels, double value) {
  write_labels(labels);
  out_ += ' ';
  if (std::isnan(value)) {
    out_ += "NaN";
  } else if (std::isinf(value)) {
    out_ += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    out_.append(buf, ec == std::errc() ? end : buf);
  }
  out_ += '\n';
}

void MetricsWriter::sample(const Labels& labels, std::uint64_t value) {
  write_labels(labels);
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

// -- admin_get, parse_metrics -----------------------------------------------------

Result<AdminReply> admin_get(const std::string& endpoint, const std::string& path, std::chrono::milliseconds timeout) {
  auto ep = parse_endpoint(endpoint);
  if (!ep) return std::unexpected(ep.error());
  beast::error_code ec;
  const auto address = asio::ip::make_address(ep->host, ec);
  if (ec) return fail(Errc::invalid_argument, "admin address must be an IP literal: " + ep->host);
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(timeout);
  bool timed_out = false;
  std::optional<Error> failure;
  http::request<http::empty_body> req{http::verb::get, path, 11};
  req.set(http::field::host, ep->host);
  req.set(http::field::connection, "close");
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(16 * 1024 * 1024);
  auto on_error = [&](beast::error_code e, const char* step) {
    if (e == beast::error::timeout) {
      timed_out = true;
    } else {
      failure = Error(step[0] == 'c' ? Errc::connect_failed : Errc::malformed_message,
                      std::string(step) + " " + endpoint + ": " + e.message());
    }
  };
  stream.async_connect(tcp::endpoint(address, ep->port), [&](beast::error_code e) {
    if (e) return on_error(e, "connect to");
    http::async_write(stream, req, [&](beast::error_code we, std::size_t) {
      if (we) return on_error(we, "write to");
      http::async_read(stream, buffer, parser, [&](beast::error_code re, std::size_t) {
        if (re) on_error(re, "read from");
      });
    });
  });
  ioc.run();
  if (timed_out) return fail(Errc::timeout, "admin " + endpoint + path);
  if (failure) return std::unexpected(*failure);
  return AdminReply{static_cast<int>(parser.get().result_int()), parser.get().body()};
}

Result<std::vector<MetricSample>> parse_metrics(std::string_view text) {
  std::vector<MetricSample> out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    auto bad = [&] { return fail(Errc::malformed_message, "metrics line " + std::to_string(line_no)); };
    MetricSample m;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    m.name = std::string(line.substr(0, i));
    if (m.name.empty()) return bad();
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const std::size_t eq = line.find('=', i);
        if (eq == std::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"') return bad();
        std::string key(line.substr(i, eq - i));
        std::string value;
        std::size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value += line[j] == 'n' ? '\n' : line[j];
          } else {
            value += line[j];
          }
        }
        if (j >= line.size()) return bad();
        m.labels.emplace(std::move(key), std::move(value));
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) return bad();
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') return bad();
    const std::string value(line.substr(i + 1));
    if (value == "+Inf") {
      m.value = HUGE_VAL;
    } else if (value == "-Inf") {
      m.value = -HUGE_VAL;
    } else if (value == "NaN") {
      m.value = std::nan("");
    } else {
      char* end = nullptr;
      m.value = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || *end != '\0') return bad();
    }
    out.push_back(std::move(m));
  }
  return out;
}

// -- Counters -----------------------------------------------------------------

void Counters::add(const Key& key, std::uint64_t n) {
  std::lock_guard lock(mu_);
  counts_[key] += n;
}

std::map<Counters::Key, std::uint64_t> Counters::snapshot() const {
  std::lock_guard lock(mu_);
  return counts_;
}

}  // namespace m2msec::service
