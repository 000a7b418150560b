#include "m2msec/proto/coap.h"

#include <algorithm>
#include <charconv>

namespace m2msec::proto::coap {

const Option* Message::find(std::uint16_t number) const {
  for (const auto& o : options) {
    if (o.number == number) return &o;
  }
  return nullptr;
}

std::vector<std::string> Message::all(std::uint16_t number) const {
  std::vector<std::string> out;
  for (const auto& o : options) {
    if (o.number == number) out.push_back(o.value);
  }
  return out;
}

void Message::add_uint(std::uint16_t number, std::uint32_t value) { add(number, encode_uint(value)); }

void Message::remove(std::uint16_t number) {
  std::erase_if(options, [number](const Option& o) { return o.number == number; });
}

std::string encode_uint(std::uint32_t value) {
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8) {
    const auto b = static_cast<char>((value >> shift) & 0xff);
    if (!out.empty() || b != 0) out.push_back(b);
  }
  return out;
}

Result<std::uint32_t> decode_uint(std::string_view value) {
  if (value.size() > 4) return fail(Errc::malformed_message, "CoAP uint option longer than 4 bytes");
  std::uint32_t v = 0;
  for (unsigned char c : value) v = (v << 8) | c;
  return v;
}

namespace {

// read_ext reads an option delta or length nibble's extension (RFC 7252
// 3.1): 13 -> one more byte + 13, 14 -> two more bytes + 269, 15 invalid.
bool read_ext(unsigned nibble, std::span<const std::uint8_t> b, std::size_t& i, std::uint32_t& out) {
  if (nibble < 13) {
    out = nibble;
    return true;
  }
  if (nibble == 13) {
    if (i + 1 > b.size()) return false;
    out = 13u + b[i];
    i += 1;
    return true;
  }
  if (nibble == 14) {
    if (i + 2 > b.size()) return false;
    out = 269u + ((static_cast<std::uint32_t>(b[i]) << 8) | b[i + 1]);
    i += 2;
    return true;
  }
  return false;
}

void put_ext(std::uint32_t v, unsigned& nibble, std::string& ext) {
  if (v < 13) {
    nibble = v;
  } else if (v < 269) {
    nibble = 13;
    ext.push_back(static_cast<char>(v - 13));
  } else {
    nibble = 14;
    const std::uint32_t e = v - 269;
    ext.push_back(static_cast<char>(e >> 8));
    ext.push_back(static_cast<char>(e & 0xff));
  }
}

}  // namespace

Result<Message> decode(std::span<const std::uint8_t> b) {
  if (b.size() < 4) return fail(Errc::malformed_message, "CoAP message shorter than its 4-byte header");
  if ((b[0] >> 6) != 1) return fail(Errc::malformed_message, "CoAP version is not 1");
  Message m;
  m.type = static_cast<Type>((b[0] >> 4) & 3);
  const unsigned tkl = b[0] & 0x0f;
  m.code = b[1];
  m.mid = static_cast<std::uint16_t>((b[2] << 8) | b[3]);
  if (tkl > 8) return fail(Errc::malformed_message, "CoAP token length over 8");
  const unsigned cls = m.code >> 5;
  if (cls == 1 || cls == 6 || cls == 7) return fail(Errc::malformed_message, "CoAP code of a reserved class");
  if (b.size() < 4 + tkl) return fail(Errc::malformed_message, "CoAP token truncated");
  m.token.assign(reinterpret_cast<const char*>(b.data()) + 4, tkl);
  std::size_t i = 4 + tkl;
  std::uint32_t number = 0;
  while (i < b.size()) {
    if (b[i] == 0xff) {
      ++i;
      if (i == b.size()) return fail(Errc::malformed_message, "CoAP payload marker with no payload");
      m.payload.assign(reinterpret_cast<const char*>(b.data()) + i, b.size() - i);
      break;
    }
    const unsigned dn = b[i] >> 4, ln = b[i] & 0x0f;
    ++i;
    std::uint32_t delta = 0, len = 0;
    if (!read_ext(dn, b, i, delta)) return fail(Errc::malformed_message, "CoAP option delta malformed");
    if (!read_ext(ln, b, i, len)) return fail(Errc::malformed_message, "CoAP option length malformed");
    number += delta;
    if (number > 0xffff) return fail(Errc::malformed_message, "CoAP option number over 65535");
    if (i + len > b.size()) return fail(Errc::malformed_message, "CoAP option value truncated");
    m.options.push_back({static_cast<std::uint16_t>(number),
                         std::string(reinterpret_cast<const char*>(b.data()) + i, len)});
    i += len;
  }
  if (m.code == codes::empty && (tkl != 0 || b.size() != 4)) {
    return fail(Errc::malformed_message, "CoAP empty message with content");
  }
  return m;
}

std::optional<std::pair<Type, std::uint16_t>> peek_header(std::span<const std::uint8_t> b) {
  if (b.size() < 4 || (b[0] >> 6) != 1) return std::nullopt;
  return std::pair{static_cast<Type>((b[0] >> 4) & 3), static_cast<std::uint16_t>((b[2] << 8) | b[3])};
}

Result<std::vector<std::uint8_t>> encode(const Message& m) {
  if (m.token.size() > 8) return fail(Errc::invalid_argument, "CoAP token over 8 bytes");
  if (m.code == codes::empty && (!m.token.empty() || !m.options.empty() || !m.payload.empty())) {
    return fail(Errc::invalid_argument, "CoAP empty message with content");
  }
  std::vector<const Option*> sorted;
  sorted.reserve(m.options.size());
  for (const auto& o : m.options) sorted.push_back(&o);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Option* a, const Option* b) { return a->number < b->number; });
  std::string out;
  out.push_back(static_cast<char>((1 << 6) | (static_cast<unsigned>(m.type) << 4) | m.token.size()));
  out.push_back(static_cast<char>(m.code));
  out.push_back(static_cast<char>(m.mid >> 8));
  out.push_back(static_cast<char>(m.mid & 0xff));
  out += m.token;
  std::uint32_t last = 0;
  for (const Option* o : sorted) {
    if (o->value.size() > 65535 + 269) return fail(Errc::invalid_argument, "CoAP option value too long");
    unsigned dn = 0, ln = 0;
    std::string dext, lext;
    put_ext(o->number - last, dn, dext);
    put_ext(static_cast<std::uint32_t>(o->value.size()), ln, lext);
    out.push_back(static_cast<char>((dn << 4) | ln));
    out += dext;
    out += lext;
    out += o->value;
    last = o->number;
  }
  if (!m.payload.empty()) {
    out.push_back(static_cast<char>(0xff));
    out += m.payload;
  }
  return std::vector<std::uint8_t>(out.begin(), out.end());
}

std::string encode_block(const Block& b) {
  const std::uint32_t v = (b.num << 4) | (b.more ? 8u : 0u) | (b.szx & 7u);
  std::string out = encode_uint(v);
  return out;
}

Result<Block> parse_block(std::string_view value) {
  if (value.size() > 3) return fail(Errc::malformed_message, "CoAP block option longer than 3 bytes");
  auto v = decode_uint(value);
  if (!v) return std::unexpected(v.error());
  Block b;
  b.szx = *v & 7u;
  b.more = (*v & 8u) != 0;
  b.num = *v >> 4;
  if (b.szx == 7) return fail(Errc::malformed_message, "CoAP block size 7 (BERT) is not supported");
  return b;
}

std::uint8_t response_code(Rsc rsc) {
  switch (rsc) {
    case Rsc::ok:
      return codes::content;
    case Rsc::created:
      return codes::created;
    case Rsc::deleted:
      return codes::deleted;
    case Rsc::updated:
      return codes::changed;
    case Rsc::bad_request:
    case Rsc::contents_unacceptable:
      return codes::bad_request;
    case Rsc::originator_has_no_privilege:
    case Rsc::security_association_required:
    case Rsc::invalid_child_resource_type:
    case Rsc::receiver_has_no_privilege:
    case Rsc::already_exists:
    case Rsc::conflict:
      return codes::forbidden;
    case Rsc::not_found:
    case Rsc::target_not_reachable:
      return codes::not_found;
    case Rsc::operation_not_allowed:
      return codes::method_not_allowed;
    case Rsc::request_timeout:
      return codes::gateway_timeout;
    case Rsc::not_implemented:
      return codes::not_implemented;
    case Rsc::internal_server_error:
    default:
      return codes::internal_server_error;
  }
}

std::string code_text(std::uint8_t c) {
  std::string d = std::to_string(c & 0x1f);
  if (d.size() < 2) d = "0" + d;
  return std::to_string(c >> 5) + "." + d;
}

namespace {

// A path segment keeps RFC 3986 pchar bytes as they are and escapes the
// rest, so that To reads as the HTTP binding's request target would.
std::string encode_segment(std::string_view seg) { return percent_encode(seg, "!$&'()*+,;=:@"); }

std::unexpected<RequestError> refuse(std::uint8_t code, Rsc rsc, std::string message) {
  return std::unexpected(RequestError{code, rsc, std::move(message)});
}

bool json_format(std::uint32_t f) { return f == kFormatJson || f == kFormatOneM2MResJson; }

}  // namespace

std::expected<Request, RequestError> to_request(const Message& m) {
  Request req;
  switch (m.code) {
    case codes::get:
      req.op = Operation::retrieve;
      break;
    case codes::post:
      req.op = m.find(options::m2m_ty) ? Operation::create : Operation::notify;
      break;
    case codes::put:
      req.op = Operation::update;
      break;
    case codes::del:
      req.op = Operation::del;
      break;
    default:
      return refuse(codes::method_not_allowed, Rsc::operation_not_allowed,
                    "CoAP method " + code_text(m.code) + " has no oneM2M operation");
  }
  std::string to, query;
  bool first_query = true;
  for (const auto& o : m.options) {
    switch (o.number) {
      case options::uri_host:
      case options::uri_port:
      case options::block1:
      case options::block2:
      case options::size1:
      case options::size2:
      case options::m2m_ot:
      case options::m2m_rqet:
      case options::m2m_rset:
      case options::m2m_oet:
      case options::m2m_ec:
      case options::m2m_vsi:
        break;  // understood; nothing of m2msec's primitive depends on them
      case options::uri_path:
        to += "/" + encode_segment(o.value);
        break;
      case options::uri_query:
        // One query component per option: a '&' or '%' inside one is
        // escaped, so that the query string splits back into the same options.
        // An empty one carries nothing and is dropped.
        if (o.value.empty()) break;
        query += (first_query ? "" : "&") + percent_encode(o.value, "!$'()*+,;=:@/?");
        first_query = false;
        break;
      case options::content_format: {
        auto f = decode_uint(o.value);
        if (!f || !json_format(*f)) {
          return refuse(codes::unsupported_content_format, Rsc::bad_request,
                        "content format is not application/json (50)");
        }
        break;
      }
      case options::accept: {
        auto f = decode_uint(o.value);
        if (!f || !json_format(*f)) {
          return refuse(codes::not_acceptable, Rsc::bad_request, "only application/json (50) is served");
        }
        break;
      }
      case options::m2m_fr:
        req.from = o.value;
        break;
      case options::m2m_rqi:
        req.rqi = o.value;
        break;
      case options::m2m_rvi:
        req.rvi = o.value;
        break;
      case options::m2m_ty: {
        auto ty = decode_uint(o.value);
        if (!ty || *ty == 0 || *ty > 0xffff) return refuse(codes::bad_request, Rsc::bad_request, "bad oneM2M-TY");
        // Resource Type belongs to CREATE (POST); on another method it says nothing.
        if (req.op == Operation::create) req.ty = static_cast<int>(*ty);
        break;
      }
      default:
        if (o.number & 1u) {
          return refuse(codes::bad_option, Rsc::bad_request,
                        "unsupported critical CoAP option " + std::to_string(o.number));
        }
        break;  // elective: ignored (RFC 7252 5.4.1)
    }
  }
  if (req.rqi.empty()) return refuse(codes::bad_request, Rsc::bad_request, "missing oneM2M-RQI option");
  if (req.op == Operation::create && req.ty == 0) {
    return refuse(codes::bad_request, Rsc::bad_request, "create without oneM2M-TY");
  }
  req.to = to.empty() ? "/" : to;
  if (!first_query) req.to += "?" + query;
  if (!m.payload.empty()) {
    req.content = nlohmann::json::parse(m.payload, nullptr, false);
    if (req.content.is_discarded()) return refuse(codes::bad_request, Rsc::bad_request, "payload is not JSON");
  }
  return req;
}

Result<Message> from_request(const Request& req) {
  if (!req.to.starts_with('/')) return fail(Errc::invalid_argument, "To must start with '/'");
  Message m;
  switch (req.op) {
    case Operation::create:
    case Operation::notify:
      m.code = codes::post;
      break;
    case Operation::retrieve:
      m.code = codes::get;
      break;
    case Operation::update:
      m.code = codes::put;
      break;
    case Operation::del:
      m.code = codes::del;
      break;
  }
  const std::size_t q = req.to.find('?');
  const std::string_view path = std::string_view(req.to).substr(1, q == std::string::npos ? std::string::npos : q - 1);
  if (!path.empty()) {
    std::size_t start = 0;
    while (true) {
      const std::size_t slash = path.find('/', start);
      auto seg = percent_decode(path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
      if (!seg) return fail(Errc::invalid_argument, "To has a bad percent escape");
      m.add(options::uri_path, std::move(*seg));
      if (slash == std::string_view::npos) break;
      start = slash + 1;
    }
  }
  if (q != std::string::npos && q + 1 < req.to.size()) {
    std::string_view query = std::string_view(req.to).substr(q + 1);
    std::size_t start = 0;
    while (start <= query.size()) {
      const std::size_t amp = query.find('&', start);
      auto part = percent_decode(query.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start));
      if (!part) return fail(Errc::invalid_argument, "To's query has a bad percent escape");
      if (!part->empty()) m.add(options::uri_query, std::move(*part));
      if (amp == std::string_view::npos) break;
      start = amp + 1;
    }
  }
  if (req.op == Operation::create) m.add_uint(options::m2m_ty, static_cast<std::uint32_t>(req.ty));
  if (!req.from.empty()) m.add(options::m2m_fr, req.from);
  m.add(options::m2m_rqi, req.rqi);
  if (!req.rvi.empty()) m.add(options::m2m_rvi, req.rvi);
  if (!req.content.is_null()) {
    m.add_uint(options::content_format, kFormatJson);
    m.payload = req.content.dump();
  }
  return m;
}

Message from_response(const Response& rsp) {
  Message m;
  m.code = response_code(rsp.rsc);
  m.add_uint(options::m2m_rsc, static_cast<std::uint32_t>(rsp.rsc));
  m.add(options::m2m_rqi, rsp.rqi);
  if (!rsp.content.is_null()) {
    m.add_uint(options::content_format, kFormatJson);
    m.payload = rsp.content.dump();
  }
  return m;
}

Result<Response> to_response(const Message& m) {
  if (!is_response(m)) return fail(Errc::malformed_message, "CoAP message is not a response");
  const Option* rsc = m.find(options::m2m_rsc);
  if (rsc == nullptr) {
    return fail(Errc::malformed_message, "CoAP response " + code_text(m.code) + " without oneM2M-RSC");
  }
  auto v = decode_uint(rsc->value);
  if (!v || *v < 1000 || *v > 9999) return fail(Errc::malformed_message, "bad oneM2M-RSC");
  Response rsp;
  rsp.rsc = static_cast<Rsc>(*v);
  if (const Option* rqi = m.find(options::m2m_rqi)) rsp.rqi = rqi->value;
  if (const Option* cf = m.find(options::content_format)) {
    auto f = decode_uint(cf->value);
    if (!f || !json_format(*f)) return fail(Errc::malformed_message, "response content format is not JSON");
  }
  if (!m.payload.empty()) {
    rsp.content = nlohmann::json::parse(m.payload, nullptr, false);
    if (rsp.content.is_discarded()) return fail(Errc::malformed_message, "response payload is not JSON");
  }
  return rsp;
}

}  // namespace m2msec::proto::coap
