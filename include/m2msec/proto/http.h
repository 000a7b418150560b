// m2msec/proto/http.h: the oneM2M HTTP binding (TS-0009) for m2msec's
// primitives: request/response <-> HTTP/1.1 messages with JSON bodies.
//
//   create   <-> POST   Content-Type: application/json;ty=N
//   retrieve <-> GET
//   update   <-> PUT
//   delete   <-> DELETE
//   notify   <-> POST   (no ty)
//   From <-> X-M2M-Origin, Request Identifier <-> X-M2M-RI,
//   release version <-> X-M2M-RVI, Response Status Code <-> X-M2M-RSC.
//
// The readers are incremental: feed() the bytes as they arrive from a
// (D)TLS session and call next() until it yields nothing more. Parsing is
// done by Boost.Beast's HTTP parser with header and body limits.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "m2msec/core/error.h"
#include "m2msec/proto/primitive.h"

namespace m2msec::proto {

struct HttpLimits {
  std::size_t max_header = 8 * 1024;
  std::size_t max_body = 64 * 1024;
  std::size_t max_buffered = 256 * 1024;  // unparsed bytes held at most
  // allow_plain: a request without X-M2M-RI is read as a plain HTTP
  // request (Request::plain) instead of failing; the MEF's BSF needs it.
  bool allow_plain = false;
};

// encode_request writes |req| as an HTTP/1.1 request for |host|.
std::string encode_request(const Request& req, std::string_view host);

// encode_plain_request writes a plain HTTP request (|req.plain|: method,
// Host, Authorization, body) for target |req.to|. Errc::invalid_argument
// if |req.plain| is not set or the method is not one Beast knows.
Result<std::string> encode_plain_request(const Request& req);

// encode_response writes |rsp| as an HTTP/1.1 response (|rsp.plain| as
// is, when set). With |close| it says "Connection: close": the server
// closes the connection once it is sent.
std::string encode_response(const Response& rsp, bool close = false);

// RequestReader parses a stream of HTTP requests into primitives.
class RequestReader {
 public:
  explicit RequestReader(HttpLimits limits = {});
  ~RequestReader();
  RequestReader(RequestReader&&) noexcept;
  RequestReader& operator=(RequestReader&&) noexcept;

  // feed appends received bytes. Fails with Errc::malformed_message when
  // more than max_buffered bytes are waiting unparsed.
  Status feed(std::span<const std::uint8_t> bytes);

  // next returns the next complete request, std::nullopt when more bytes
  // are needed, or Errc::malformed_message (bad HTTP, over a limit, an
  // unsupported method, a missing X-M2M-RI unless allow_plain, a body that
  // is not JSON). After an error the stream is unusable: answer 400 and
  // close.
  Result<std::optional<Request>> next();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ResponseReader parses a stream of HTTP responses into primitives. The
// response must carry X-M2M-RSC; its body, if any, must be JSON. With
// allow_plain, a response without X-M2M-RSC is read as a plain one
// (Response::plain: status, every header but Content-Type and
// Content-Length, and the body unparsed).
class ResponseReader {
 public:
  explicit ResponseReader(HttpLimits limits = {});
  ~ResponseReader();
  ResponseReader(ResponseReader&&) noexcept;
  ResponseReader& operator=(ResponseReader&&) noexcept;

  Status feed(std::span<const std::uint8_t> bytes);
  Result<std::optional<Response>> next();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace m2msec::proto
