#include "m2msec/proto/http.h"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>
#include <sstream>

namespace m2msec::proto {
namespace http = boost::beast::http;

namespace {

constexpr std::string_view kJson = "application/json";

Result<nlohmann::json> parse_body(const std::string& body) {
  if (body.empty()) return nlohmann::json();
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(Errc::malformed_message, "body is not JSON");
  return j;
}

std::string header(const http::fields& f, std::string_view name) {
  auto it = f.find(boost::beast::string_view(name.data(), name.size()));
  if (it == f.end()) return {};
  return std::string(it->value());
}

// parse_ty reads ";ty=N" from a Content-Type value, 0 if absent.
Result<int> parse_ty(std::string_view ct) {
  const std::size_t pos = ct.find("ty=");
  if (pos == std::string_view::npos) return 0;
  std::string_view num = ct.substr(pos + 3);
  num = num.substr(0, num.find(';'));
  int ty = 0;
  const auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), ty);
  if (ec != std::errc{} || p != num.data() + num.size() || ty <= 0) {
    return fail(Errc::malformed_message, "bad ty in Content-Type");
  }
  return ty;
}

// StreamParser holds unparsed bytes and one Beast parser at a time.
template <bool IsRequest>
class StreamParser {
 public:
  using Parser = http::parser<IsRequest, http::string_body>;
  using Message = http::message<IsRequest, http::string_body>;

  explicit StreamParser(HttpLimits limits) : limits_(limits) { reset(); }

  Status feed(std::span<const std::uint8_t> bytes) {
    if (failed_) return fail(Errc::malformed_message, "stream already failed");
    if (buf_.size() + bytes.size() > limits_.max_buffered) {
      failed_ = true;
      return fail(Errc::malformed_message, "too many unparsed bytes");
    }
    buf_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return {};
  }

  Result<std::optional<Message>> next() {
    if (failed_) return fail(Errc::malformed_message, "stream already failed");
    while (!buf_.empty() && !parser_->is_done()) {
      boost::beast::error_code ec;
      const std::size_t used = parser_->put(boost::asio::buffer(buf_.data(), buf_.size()), ec);
      buf_.erase(0, used);
      if (ec == http::error::need_more) break;
      if (ec) {
        failed_ = true;
        return fail(Errc::malformed_message, ec.message());
      }
      if (used == 0) break;
    }
    if (!parser_->is_done()) return std::optional<Message>();
    Message msg = parser_->release();
    reset();
    return std::optional<Message>(std::move(msg));
  }

 private:
  void reset() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(limits_.max_header));
    parser_->body_limit(limits_.max_body);
    parser_->eager(true);
  }

  HttpLimits limits_;
  std::string buf_;
  std::optional<Parser> parser_;
  bool failed_ = false;
};

}  // namespace

namespace {

// serialize writes |msg| with its Content-Length and, with |close|,
// "Connection: close" (RFC 9112 9.6).
template <bool IsRequest>
std::string serialize(http::message<IsRequest, http::string_body>& msg, bool close) {
  msg.prepare_payload();
  if (close) msg.keep_alive(false);
  std::ostringstream out;
  out << msg;
  return out.str();
}

}  // namespace

std::string encode_request(const Request& req, std::string_view host) {
  http::request<http::string_body> msg;
  switch (req.op) {
    case Operation::create:
    case Operation::notify:
      msg.method(http::verb::post);
      break;
    case Operation::retrieve:
      msg.method(http::verb::get);
      break;
    case Operation::update:
      msg.method(http::verb::put);
      break;
    case Operation::del:
      msg.method(http::verb::delete_);
      break;
    default:
      msg.method(http::verb::get);
      break;
  }
  msg.target(req.to);
  msg.version(11);
  msg.set(http::field::host, std::string(host));
  msg.set("X-M2M-Origin", req.from);
  msg.set("X-M2M-RI", req.rqi);
  msg.set("X-M2M-RVI", req.rvi);
  msg.set(http::field::accept, std::string(kJson));
  // A create carries its resource type in Content-Type even without a
  // body; otherwise it would read back as a notify (found by fuzz/http.cc).
  const bool typed_create = req.op == Operation::create && req.ty > 0;
  if (!req.content.is_null() || typed_create) {
    std::string ct(kJson);
    if (typed_create) ct += ";ty=" + std::to_string(req.ty);
    msg.set(http::field::content_type, ct);
  }
  if (!req.content.is_null()) msg.body() = req.content.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return serialize(msg, req.close);
}

Result<std::string> encode_plain_request(const Request& req) {
  if (!req.plain) return fail(Errc::invalid_argument, "not a plain request");
  const http::verb verb = http::string_to_verb(req.plain->method);
  if (verb == http::verb::unknown) return fail(Errc::invalid_argument, "unknown HTTP method");
  http::request<http::string_body> msg;
  msg.method(verb);
  msg.target(req.to);
  msg.version(11);
  msg.set(http::field::host, req.plain->host);
  if (!req.plain->authorization.empty()) msg.set(http::field::authorization, req.plain->authorization);
  msg.body() = req.plain->body;
  return serialize(msg, req.close);
}

std::string encode_response(const Response& rsp, bool close) {
  http::response<http::string_body> msg;
  if (rsp.plain) {
    msg.result(static_cast<unsigned>(rsp.plain->status));
    msg.version(11);
    for (const auto& [name, value] : rsp.plain->headers) msg.set(name, value);
    if (!rsp.plain->content_type.empty()) msg.set(http::field::content_type, rsp.plain->content_type);
    msg.body() = rsp.plain->body;
    return serialize(msg, close);
  }
  msg.result(static_cast<unsigned>(http_status(rsp.rsc)));
  msg.version(11);
  msg.set("X-M2M-RSC", std::to_string(static_cast<int>(rsp.rsc)));
  msg.set("X-M2M-RI", rsp.rqi);
  if (!rsp.content.is_null()) {
    msg.set(http::field::content_type, std::string(kJson));
    msg.body() = rsp.content.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return serialize(msg, close);
}

struct RequestReader::Impl {
  explicit Impl(HttpLimits l) : parser(l), allow_plain(l.allow_plain) {}
  Result<std::optional<Request>> next();
  StreamParser<true> parser;
  bool allow_plain = false;
  bool failed = false;
};

RequestReader::RequestReader(HttpLimits limits) : impl_(std::make_unique<Impl>(limits)) {}
RequestReader::~RequestReader() = default;
RequestReader::RequestReader(RequestReader&&) noexcept = default;
RequestReader& RequestReader::operator=(RequestReader&&) noexcept = default;

Status RequestReader::feed(std::span<const std::uint8_t> bytes) { return impl_->parser.feed(bytes); }

Result<std::optional<Request>> RequestReader::next() {
  if (impl_->failed) return fail(Errc::malformed_message, "stream already failed");
  auto out = impl_->next();
  if (!out) impl_->failed = true;
  return out;
}

Result<std::optional<Request>> RequestReader::Impl::next() {
  auto msg = parser.next();
  if (!msg) return std::unexpected(msg.error());
  if (!*msg) return std::optional<Request>();
  const auto& m = **msg;
  Request req;
  const std::string ct = header(m, "Content-Type");
  switch (m.method()) {
    case http::verb::post: {
      auto ty = parse_ty(ct);
      if (!ty) return std::unexpected(ty.error());
      req.ty = *ty;
      req.op = req.ty > 0 ? Operation::create : Operation::notify;
      break;
    }
    case http::verb::get:
      req.op = Operation::retrieve;
      break;
    case http::verb::put:
      req.op = Operation::update;
      break;
    case http::verb::delete_:
      req.op = Operation::del;
      break;
    default:
      return fail(Errc::malformed_message, "unsupported HTTP method");
  }
  req.to = std::string(m.target());
  req.close = !m.keep_alive();
  req.from = header(m, "X-M2M-Origin");
  req.rqi = header(m, "X-M2M-RI");
  if (req.rqi.empty() && allow_plain) {
    auto plain = std::make_shared<PlainHttp>();
    plain->method = std::string(m.method_string());
    plain->host = header(m, "Host");
    plain->authorization = header(m, "Authorization");
    plain->body = m.body();
    req.from.clear();
    req.ty = 0;
    req.plain = std::move(plain);
    return std::optional<Request>(std::move(req));
  }
  if (req.rqi.empty()) return fail(Errc::malformed_message, "missing X-M2M-RI");
  if (auto rvi = header(m, "X-M2M-RVI"); !rvi.empty()) req.rvi = rvi;
  if (!m.body().empty() && ct.rfind(std::string(kJson), 0) != 0) {
    return fail(Errc::malformed_message, "body is not application/json");
  }
  auto body = parse_body(m.body());
  if (!body) return std::unexpected(body.error());
  req.content = std::move(*body);
  return std::optional<Request>(std::move(req));
}

struct ResponseReader::Impl {
  explicit Impl(HttpLimits l) : parser(l), allow_plain(l.allow_plain) {}
  Result<std::optional<Response>> next();
  StreamParser<false> parser;
  bool allow_plain = false;
  bool failed = false;
};

ResponseReader::ResponseReader(HttpLimits limits) : impl_(std::make_unique<Impl>(limits)) {}
ResponseReader::~ResponseReader() = default;
ResponseReader::ResponseReader(ResponseReader&&) noexcept = default;
ResponseReader& ResponseReader::operator=(ResponseReader&&) noexcept = default;

Status ResponseReader::feed(std::span<const std::uint8_t> bytes) { return impl_->parser.feed(bytes); }

Result<std::optional<Response>> ResponseReader::next() {
  if (impl_->failed) return fail(Errc::malformed_message, "stream already failed");
  auto out = impl_->next();
  if (!out) impl_->failed = true;
  return out;
}

Result<std::optional<Response>> ResponseReader::Impl::next() {
  auto msg = parser.next();
  if (!msg) return std::unexpected(msg.error());
  if (!*msg) return std::optional<Response>();
  const auto& m = **msg;
  Response rsp;
  const std::string rsc = header(m, "X-M2M-RSC");
  if (rsc.empty() && allow_plain) {
    auto plain = std::make_shared<PlainHttpResponse>();
    plain->status = static_cast<int>(m.result_int());
    for (const auto& f : m) {
      if (f.name() == http::field::content_type || f.name() == http::field::content_length) continue;
      plain->headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    plain->content_type = header(m, "Content-Type");
    plain->body = m.body();
    rsp.plain = std::move(plain);
    return std::optional<Response>(std::move(rsp));
  }
  int code = 0;
  const auto [p, ec] = std::from_chars(rsc.data(), rsc.data() + rsc.size(), code);
  if (rsc.empty() || ec != std::errc{} || p != rsc.data() + rsc.size() || code < 1000 || code > 9999) {
    return fail(Errc::malformed_message, "missing or bad X-M2M-RSC");
  }
  rsp.rsc = static_cast<Rsc>(code);
  rsp.rqi = header(m, "X-M2M-RI");
  auto body = parse_body(m.body());
  if (!body) return std::unexpected(body.error());
  rsp.content = std::move(*body);
  return std::optional<Response>(std::move(rsp));
}

}  // namespace m2msec::proto
