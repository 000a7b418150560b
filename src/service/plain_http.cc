#include "m2msec/service/plain_http.h"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <exception>
#include <list>
#include <mutex>
#include <optional>
#include <thread>

#include "m2msec/core/endpoint.h"
#include "m2msec/core/printable.h"
#include "m2msec/core/thread.h"
#include "tcp_listen.h"

namespace m2msec::service {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {
class Connection;
}  // namespace

// Impl outlives every handler: the connections hold a plain pointer to it,
// and ~Impl destroys the acceptor and the io_context (and with them every
// pending handler and connection) first, while the rest is still alive.
// The work guard keeps the loop running after stop(), so that a reply that
// arrives late is posted to a live loop (and dropped: its socket is closed).
struct PlainHttpServer::Impl {
  std::optional<asio::io_context> ioc{std::in_place, 1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{std::in_place,
                                                                                 ioc->get_executor()};
  std::optional<tcp::acceptor> acceptor{std::in_place, *ioc};
  std::thread thread;
  std::string role;
  ServiceHandler handler;
  PlainHttpOptions options;
  std::atomic<std::size_t> connections{0};
  std::atomic<bool> stopped{false};
  std::uint16_t port = 0;
  std::mutex mu;
  std::list<std::weak_ptr<Connection>> open;  // for stop()

  ~Impl() {
    acceptor.reset();
    work.reset();
    ioc.reset();
  }
  void do_accept();
};

namespace {

std::string peer_ip(const tcp::socket& s) {
  beast::error_code ec;
  const tcp::endpoint ep = s.remote_endpoint(ec);
  if (ec) return "";
  asio::ip::address a = ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a.to_string(ec);
}

// Connection reads requests, hands each to the handler and writes its
// answer before reading the next; everything runs on its strand.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, PlainHttpServer::Impl* server)
      : stream_(std::move(socket)), server_(server), reader_(server_->options.limits) {
    auto ctx = std::make_shared<AuthContext>();
    ctx->peer.kind = tls::PeerIdentity::Kind::none;
    ctx->peer.address = peer_ip(stream_.socket());
    ctx->listener = server_->role + "/http";
    ctx_ = std::move(ctx);
  }
  ~Connection() { --server_->connections; }

  void start() { next(); }

  // shut closes the socket from any thread (on the connection's strand).
  void shut() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->close(); });
  }

 private:
  // next serves a request already buffered, or reads more bytes.
  void next() {
    if (server_->stopped.load()) return close();
    Result<std::optional<proto::Request>> r = reader_.next();
    if (!r) return refuse();
    if (*r) return dispatch(std::move(**r));
    stream_.expires_after(server_->options.idle_timeout);
    stream_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      if (ec) return self->close();  // closed, reset, or idle too long
      if (!self->reader_.feed(std::span<const std::uint8_t>(self->buf_.data(), n))) return self->refuse();
      self->next();
    });
  }

  void dispatch(proto::Request req) {
    stream_.expires_never();  // the handler may take its time; the answer is written under a deadline
    auto once = std::make_shared<std::atomic<bool>>(false);
    const std::string rqi = req.rqi;
    const bool close = req.close;  // "Connection: close": answer, then close
    proto::Reply reply = [self = shared_from_this(), once, rqi, close](proto::Response rsp) {
      std::string text;
      try {
        text = proto::encode_response(rsp, close);
      } catch (const std::exception&) {
        proto::Request stub;
        stub.rqi = rqi;
        text = proto::encode_response(
            proto::error_response(stub, proto::Rsc::internal_server_error, "request failed"), close);
      }
      if (once->exchange(true)) return;
      asio::post(self->stream_.get_executor(),
                 [self, text = std::move(text), close]() mutable { self->write(std::move(text), close); });
    };
    try {
      server_->handler(ctx_, req, reply);
    } catch (const std::exception& e) {
      spdlog::error("{}: plain HTTP handler failed: {}", server_->role, printable(e.what(), 256));
      proto::Request stub;
      stub.rqi = rqi;
      reply(proto::error_response(stub, proto::Rsc::internal_server_error, "request failed"));
    }
  }

  // refuse answers a malformed or oversized request 4000 and closes.
  void refuse() {
    proto::Request stub;
    write(proto::encode_response(proto::error_response(stub, proto::Rsc::bad_request, "malformed HTTP request"),
                                 /*close=*/true),
          true);
  }

  void write(std::string text, bool then_close) {
    auto shared = std::make_shared<std::string>(std::move(text));
    stream_.expires_after(server_->options.idle_timeout);
    asio::async_write(stream_, asio::buffer(*shared),
                      [self = shared_from_this(), shared, then_close](beast::error_code ec, std::size_t) {
                        if (ec || then_close || self->server_->stopped.load()) return self->close();
                        self->next();
                      });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  PlainHttpServer::Impl* server_;
  proto::RequestReader reader_;
  std::array<std::uint8_t, 16384> buf_{};
  AuthRef ctx_;
};

}  // namespace

void PlainHttpServer::Impl::do_accept() {
  acceptor->async_accept(asio::make_strand(*ioc), [self = this](beast::error_code ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted || self->stopped.load()) return;
    if (!ec) {
      if (self->connections.load() >= self->options.max_connections) {
        beast::error_code ignored;
        s.close(ignored);  // over the bound: refused at once
      } else {
        ++self->connections;
        try {
          auto c = std::make_shared<Connection>(std::move(s), self);
          {
            std::lock_guard lock(self->mu);
            std::erase_if(self->open, [](const std::weak_ptr<Connection>& w) { return w.expired(); });
            self->open.push_back(c);
          }
          c->start();
        } catch (const std::exception& e) {
          spdlog::error("{}: plain HTTP connection failed: {}", self->role, printable(e.what(), 256));
        }
      }
    }
    self->do_accept();
  });
}

PlainHttpServer::PlainHttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

void PlainHttpServer::stop() {
  if (impl_->stopped.exchange(true)) return;
  asio::post(*impl_->ioc, [impl = impl_.get()] {
    beast::error_code ignored;
    if (impl->acceptor) impl->acceptor->close(ignored);
  });
  std::lock_guard lock(impl_->mu);
  for (auto& w : impl_->open) {
    if (auto c = w.lock()) c->shut();
  }
}

PlainHttpServer::~PlainHttpServer() {
  stop();
  impl_->ioc->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::uint16_t PlainHttpServer::port() const { return impl_->port; }

Result<std::unique_ptr<PlainHttpServer>> PlainHttpServer::start(const std::string& listen, std::string role,
                                                                ServiceHandler handler, PlainHttpOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->role = std::move(role);
  impl->handler = std::move(handler);
  impl->options = options;
  auto port = listen_tcp(*impl->acceptor, listen, "plain HTTP listener");
  if (!port) return std::unexpected(port.error());
  impl->port = *port;
  impl->do_accept();
  impl->thread = std::thread([impl = impl.get()] {
    set_thread_name("m2m-http");
    for (;;) {
      try {
        impl->ioc->run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("{}: plain HTTP loop: {}", impl->role, printable(e.what(), 256));
      }
    }
  });
  return std::unique_ptr<PlainHttpServer>(new PlainHttpServer(std::move(impl)));
}

Result<proto::Response> plain_http_call(const std::string& endpoint, const std::string& host, const proto::Request& req,
                                        std::chrono::milliseconds timeout, proto::HttpLimits limits) {
  auto ep = parse_endpoint(endpoint);
  if (!ep) return std::unexpected(ep.error());
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  proto::ResponseReader reader(limits);
  // One connection per call: it ends with the answer ("Connection" is
  // hop-by-hop, RFC 9110 7.6.1, so a relayed request's own is not kept).
  proto::Request one_shot = req;
  one_shot.close = true;
  const std::string text = proto::encode_request(one_shot, host);
  std::array<std::uint8_t, 16384> buf{};
  std::optional<Result<proto::Response>> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto failed = [&](beast::error_code e, Errc code, const char* step) {
    if (e == beast::error::timeout) {
      out = fail(Errc::timeout, std::string(step) + " " + endpoint);
    } else {
      out = fail(code, std::string(step) + " " + endpoint + ": " + e.message());
    }
  };
  std::function<void()> read_more = [&] {
    stream.expires_at(deadline);
    stream.async_read_some(asio::buffer(buf), [&](beast::error_code e, std::size_t n) {
      if (e) return failed(e, Errc::connection_closed, "read from");
      if (Status st = reader.feed(std::span<const std::uint8_t>(buf.data(), n)); !st) {
        out = std::unexpected(st.error());
        return;
      }
      auto r = reader.next();
      if (!r) {
        out = std::unexpected(r.error());
      } else if (*r) {
        out = std::move(**r);
      } else {
        read_more();
      }
    });
  };
  resolver.async_resolve(ep->host, std::to_string(ep->port),
                         [&](beast::error_code e, const tcp::resolver::results_type& results) {
                           if (e) return failed(e, Errc::connect_failed, "resolve");
                           stream.expires_at(deadline);
                           stream.async_connect(results, [&](beast::error_code ce, const tcp::endpoint&) {
                             if (ce) return failed(ce, Errc::connect_failed, "connect to");
                             stream.expires_at(deadline);
                             asio::async_write(stream, asio::buffer(text), [&](beast::error_code we, std::size_t) {
                               if (we) return failed(we, Errc::connection_closed, "write to");
                               read_more();
                             });
                           });
                         });
  ioc.run_until(deadline + std::chrono::milliseconds(100));
  if (!out) return fail(Errc::timeout, "no answer from " + endpoint);
  return std::move(*out);
}

}  // namespace m2msec::service
