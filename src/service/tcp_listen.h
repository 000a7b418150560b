// tcp_listen.h (private): binding a plain TCP listener, shared by the
// admin listener and the plain HTTP listener of the gateway hop.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "m2msec/core/endpoint.h"
#include "m2msec/core/error.h"

namespace m2msec::service {

// listen_tcp opens |acceptor| on |listen| ("IP:port"; port 0 picks a free
// one), binds it (SO_REUSEADDR) and listens; returns the bound port. Fails
// with Errc::invalid_argument (not host:port, or not an IP literal) or
// Errc::io_error (open, bind, listen), naming |what|.
inline Result<std::uint16_t> listen_tcp(boost::asio::ip::tcp::acceptor& acceptor, const std::string& listen,
                                        std::string_view what) {
  namespace asio = boost::asio;
  auto ep = parse_endpoint(listen);
  if (!ep) return std::unexpected(ep.error());
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(ep->host, ec);
  if (ec) return fail(Errc::invalid_argument, std::string(what) + " address must be an IP literal: " + ep->host);
  const asio::ip::tcp::endpoint endpoint(address, ep->port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(Errc::io_error, std::string(what) + " " + listen + ": " + ec.message());
  return acceptor.local_endpoint().port();
}

}  // namespace m2msec::service
