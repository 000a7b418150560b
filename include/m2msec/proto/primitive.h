// m2msec/proto/primitive.h: oneM2M request and response primitives
// (TS-0004) as carried by the HTTP binding (TS-0009).
//
// Only the parameters m2msec uses are modelled: operation, To, From,
// Request Identifier, release version, resource type, and a JSON content.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "m2msec/core/error.h"

namespace m2msec::proto {

// Operation is the oneM2M operation (TS-0004 m2m:operation).
enum class Operation { create = 1, retrieve = 2, update = 3, del = 4, notify = 5 };

std::string_view operation_name(Operation op);

// Rsc is a oneM2M Response Status Code (TS-0004 m2m:responseStatusCode),
// the subset m2msec sends.
enum class Rsc : int {
  ok = 2000,
  created = 2001,
  deleted = 2002,
  updated = 2004,
  bad_request = 4000,
  not_found = 4004,
  operation_not_allowed = 4005,
  request_timeout = 4008,
  contents_unacceptable = 4102,
  originator_has_no_privilege = 4103,
  conflict = 4105,
  invalid_child_resource_type = 4108,
  security_association_required = 4107,
  internal_server_error = 5000,
  not_implemented = 5001,
  target_not_reachable = 5103,
  receiver_has_no_privilege = 5105,
  already_exists = 5106,
};

// http_status maps an Rsc onto the HTTP status code of TS-0009 clause 6.
int http_status(Rsc rsc);

// is_success is true for 2xxx codes.
inline bool is_success(Rsc rsc) { return static_cast<int>(rsc) >= 2000 && static_cast<int>(rsc) < 3000; }

// PlainHttp is an HTTP request that is not a oneM2M primitive (it carries
// no X-M2M-RI): the GBA bootstrap on Ub (TS 24.109 4), which the MEF
// serves as the BSF. Only readers that allow it produce one
// (HttpLimits::allow_plain); Request::plain then points at it.
struct PlainHttp {
  std::string method;         // as sent, e.g. "GET"
  std::string host;           // Host header
  std::string authorization;  // Authorization header ("" if absent)
  std::string body;           // the entity body, unparsed
};

// PlainHttpResponse is the answer to a PlainHttp request, written as is.
struct PlainHttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Length
  std::string content_type;                                   // "" if no body
  std::string body;
};

// Request is one request primitive.
struct Request {
  Operation op = Operation::retrieve;
  std::string to;       // target resource path, e.g. "/mef"
  std::string from;     // X-M2M-Origin
  std::string rqi;      // X-M2M-RI
  std::string rvi = "4";  // X-M2M-RVI
  int ty = 0;           // resource type for create (Content-Type ;ty=), 0 if none
  nlohmann::json content;  // null if no body
  // close: the sender ends the connection once this request is answered
  // (HTTP "Connection: close", or an HTTP/1.0 request without keep-alive).
  // An HTTP server answers with "Connection: close" and then closes the
  // session (RFC 9112 9.6), so a one-shot client does not keep a server
  // connection waiting for its close_notify. The CoAP binding ignores it.
  bool close = false;
  // plain is set for a plain HTTP request (see PlainHttp): op is then the
  // method's operation, to the target, and the other fields are empty.
  std::shared_ptr<const PlainHttp> plain = nullptr;
};

// Response is one response primitive.
struct Response {
  Rsc rsc = Rsc::ok;
  std::string rqi;
  nlohmann::json content;  // null if no body; for errors {"m2m:dbg": "..."}
  // plain, if set, is sent instead of the primitive (the answer to a
  // PlainHttp request).
  std::shared_ptr<const PlainHttpResponse> plain = nullptr;
};

// error_response builds a response carrying |rsc| and a debug message
// (m2m:dbg) that is safe to show the peer: never key material.
Response error_response(const Request& req, Rsc rsc, std::string_view debug);

// ok_response builds a success response with |content|.
Response ok_response(const Request& req, Rsc rsc, nlohmann::json content);

// Timestamps use the oneM2M basic ISO 8601 form "YYYYMMDDTHHMMSS" (UTC).
std::string format_time(std::int64_t unix_seconds);

// parse_time reads "YYYYMMDDTHHMMSS", year 1970 or later (a trailing "Z"
// or ",fraction" is not accepted). Fails with Errc::invalid_argument.
Result<std::int64_t> parse_time(std::string_view text);

// percent_encode escapes every byte outside RFC 3986 unreserved and
// |also_safe|, so that a key ID ('+', '/', '=', '@') fits one path segment.
std::string percent_encode(std::string_view text, std::string_view also_safe = {});

// percent_decode reverses percent_encode; '%' must be followed by two hex
// digits. Fails with Errc::invalid_argument.
Result<std::string> percent_decode(std::string_view text);

}  // namespace m2msec::proto
