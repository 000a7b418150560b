// m2msec/proto/coap.h: CoAP messages (RFC 7252, block-wise transfer of
// RFC 7959) and the oneM2M CoAP binding (TS-0008) for m2msec's primitives.
//
//   create   <-> POST with oneM2M-TY        retrieve <-> GET
//   update   <-> PUT                        delete   <-> DELETE
//   notify   <-> POST without oneM2M-TY
//   To       <-> Uri-Path ("~" first for SP-relative, "_" for absolute)
//   From <-> oneM2M-FR (279), Request Identifier <-> oneM2M-RQI (283),
//   release version <-> oneM2M-RVI (271), resource type <-> oneM2M-TY (267),
//   Response Status Code <-> oneM2M-RSC (307) and the CoAP response code
//   (TS-0008 table 6.2.4-1); Content <-> payload, Content-Format 50
//   (application/json).
//
// The codec is m2msec's own (libcoap 4.3.1 parses a PDU through its public
// API but cannot serialise one without its own sockets and sessions); its
// tests check it against libcoap's parser, and the integration tests talk
// to libcoap's client and server.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/proto/primitive.h"

namespace m2msec::proto::coap {

enum class Type : std::uint8_t { con = 0, non = 1, ack = 2, rst = 3 };

// Codes are class << 5 | detail: 2.05 is 0x45.
constexpr std::uint8_t code(int cls, int detail) { return static_cast<std::uint8_t>((cls << 5) | detail); }
namespace codes {
inline constexpr std::uint8_t empty = 0, get = 1, post = 2, put = 3, del = 4;
inline constexpr std::uint8_t created = code(2, 1), deleted = code(2, 2), changed = code(2, 4),
                              content = code(2, 5), continue_ = code(2, 31);
inline constexpr std::uint8_t bad_request = code(4, 0), bad_option = code(4, 2), forbidden = code(4, 3),
                              not_found = code(4, 4), method_not_allowed = code(4, 5),
                              not_acceptable = code(4, 6), request_entity_incomplete = code(4, 8),
                              entity_too_large = code(4, 13), unsupported_content_format = code(4, 15);
inline constexpr std::uint8_t internal_server_error = code(5, 0), not_implemented = code(5, 1),
                              service_unavailable = code(5, 3), gateway_timeout = code(5, 4);
}  // namespace codes

// Option numbers: RFC 7252 5.10, RFC 7959 2.1, TS-0008 table 6.2.2.4.0-1.
namespace options {
inline constexpr std::uint16_t if_match = 1, uri_host = 3, etag = 4, if_none_match = 5, uri_port = 7,
                               location_path = 8, uri_path = 11, content_format = 12, max_age = 14,
                               uri_query = 15, accept = 17, location_query = 20, block2 = 23, block1 = 27,
                               size2 = 28, proxy_uri = 35, proxy_scheme = 39, size1 = 60;
// oneM2M options (all odd: critical).
inline constexpr std::uint16_t m2m_ot = 259, m2m_rturi = 263, m2m_ty = 267, m2m_rvi = 271, m2m_asri = 275,
                               m2m_fr = 279, m2m_rqi = 283, m2m_rqet = 291, m2m_rset = 295, m2m_oet = 299,
                               m2m_ec = 303, m2m_rsc = 307, m2m_gid = 311, m2m_cto = 319, m2m_cts = 323,
                               m2m_ati = 327, m2m_vsi = 331, m2m_gtm = 335, m2m_aus = 339;
}  // namespace options

// Content formats: application/json (RFC 7252 12.3) and TS-0008's
// application/vnd.onem2m-res+json.
inline constexpr std::uint32_t kFormatJson = 50;
inline constexpr std::uint32_t kFormatOneM2MResJson = 10001;

// kMaxMessage bounds one encoded message (one DTLS record's payload).
inline constexpr std::size_t kMaxMessage = 16 * 1024;
// kBlockSzx is the block size m2msec sends in (2^(4+5) = 512 bytes): it
// fits a DTLS datagram of the default 1200-byte MTU with room for options.
inline constexpr unsigned kBlockSzx = 5;

struct Option {
  std::uint16_t number = 0;
  std::string value;
  bool operator==(const Option&) const = default;
};

struct Message {
  Type type = Type::con;
  std::uint8_t code = codes::empty;
  std::uint16_t mid = 0;
  std::string token;             // 0-8 bytes
  std::vector<Option> options;   // in number order after decode; encode sorts (stably)
  std::string payload;

  // find returns the first option |number|, or null.
  const Option* find(std::uint16_t number) const;
  // all returns every value of option |number|, in order.
  std::vector<std::string> all(std::uint16_t number) const;
  void add(std::uint16_t number, std::string value) { options.push_back({number, std::move(value)}); }
  void add_uint(std::uint16_t number, std::uint32_t value);
  void remove(std::uint16_t number);
};

// is_request / is_response / is_empty classify a message by its code.
inline bool is_request(const Message& m) { return m.code >= 1 && m.code <= 31; }
inline bool is_response(const Message& m) { return m.code >= 64; }
inline bool is_empty(const Message& m) { return m.code == codes::empty; }

// decode reads one CoAP message. Fails with Errc::malformed_message (a
// version other than 1, a token length over 8, a bad option delta or
// length, a payload marker with no payload, an empty message with token,
// options or payload, a reserved code class).
Result<Message> decode(std::span<const std::uint8_t> bytes);

// peek_header returns the type and message ID of a datagram that is at
// least a CoAP header (for a Reset to a message decode() refused).
std::optional<std::pair<Type, std::uint16_t>> peek_header(std::span<const std::uint8_t> bytes);

// encode writes |m|; options are emitted in number order (stable for
// repeated options). Fails with Errc::invalid_argument for a token over 8
// bytes or an empty message with content.
Result<std::vector<std::uint8_t>> encode(const Message& m);

// uint options: big-endian, no leading zero bytes (0 is empty).
std::string encode_uint(std::uint32_t value);
// decode_uint fails with Errc::malformed_message beyond 4 bytes.
Result<std::uint32_t> decode_uint(std::string_view value);

// Block is a Block1/Block2 option value (RFC 7959 2.2).
struct Block {
  std::uint32_t num = 0;
  bool more = false;
  unsigned szx = kBlockSzx;  // 0..6; size 2^(szx+4)
  std::size_t size() const { return std::size_t{16} << szx; }
};
std::string encode_block(const Block& b);
// parse_block fails with Errc::malformed_message for more than 3 bytes,
// szx 7 (BERT, unsupported) or a block number past 2^20.
Result<Block> parse_block(std::string_view value);

// response_code maps an Rsc onto the CoAP response code (TS-0008 table
// 6.2.4-1).
std::uint8_t response_code(Rsc rsc);

// code_text renders "2.05".
std::string code_text(std::uint8_t code);

// RequestError is why a CoAP request does not make a primitive: the CoAP
// response code and the oneM2M RSC to answer with, and a safe message.
struct RequestError {
  std::uint8_t code = codes::bad_request;
  Rsc rsc = Rsc::bad_request;
  std::string message;
};

// to_request maps a CoAP request (a complete payload) onto a primitive.
// Unknown critical options are refused (4.02), as are a method other than
// GET/POST/PUT/DELETE (4.05), a payload that is not JSON, a content format
// other than JSON (4.15), an Accept other than JSON (4.06), a missing
// oneM2M-RQI, and a malformed oneM2M-TY. Uri-Query options are appended to
// To after '?', as the HTTP binding's request target carries them.
std::expected<Request, RequestError> to_request(const Message& m);

// from_request maps a primitive onto a CoAP request: code, options and
// payload (type, message ID and token are the caller's). Fails with
// Errc::invalid_argument for a To that does not start with '/'.
Result<Message> from_request(const Request& req);

// from_response maps a response primitive onto a CoAP response: code,
// oneM2M-RSC, oneM2M-RQI, Content-Format and payload.
Message from_response(const Response& rsp);

// to_response maps a CoAP response (a complete payload) onto a primitive.
// The RSC comes from oneM2M-RSC; without it (a peer that is not oneM2M),
// fails with Errc::malformed_message naming the CoAP code.
Result<Response> to_response(const Message& m);

}  // namespace m2msec::proto::coap
