#include "m2msec/proto/coap_server.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <deque>
#include <exception>

#include "m2msec/core/printable.h"
#include "m2msec/proto/coap.h"
#include "pending_reply.h"

namespace m2msec::proto {

std::string_view dtls_binding_name(DtlsBinding b) {
  switch (b) {
    case DtlsBinding::coap:
      return "coap";
    case DtlsBinding::http:
      return "http";
    default:
      return "auto";
  }
}

Result<DtlsBinding> parse_dtls_binding(std::string_view text) {
  if (text == "coap") return DtlsBinding::coap;
  if (text == "http") return DtlsBinding::http;
  if (text == "auto") return DtlsBinding::automatic;
  return fail(Errc::invalid_argument, "dtls_binding must be coap, http or auto, got '" + std::string(text) + "'");
}

bool looks_like_http(std::span<const std::uint8_t> bytes) {
  static constexpr std::string_view kMethods[] = {"GET ", "POST ", "PUT ", "DELETE ", "HEAD ", "OPTIONS ", "PATCH "};
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  for (auto m : kMethods) {
    if (text.starts_with(m)) return true;
  }
  return false;
}

namespace {

class CoapConnection;

// ReplyTo is what answering one request needs: how it came, and which
// block of the response it asked for.
struct ReplyTo {
  coap::Type type = coap::Type::con;
  std::uint16_t mid = 0;
  std::string token;
  std::string key;               // path + RQI + From: which request the Block2 cache holds
  std::uint32_t block2_num = 0;
  unsigned block2_szx = coap::kBlockSzx;
};

using PendingReply = detail::PendingReply<CoapConnection, ReplyTo>;

constexpr std::size_t kRecentAnswers = 32;

class CoapConnection : public std::enable_shared_from_this<CoapConnection> {
 public:
  static constexpr const char* kName = "coap";

  CoapConnection(std::shared_ptr<tls::Session> session, RequestHandler handler, HttpLimits limits,
                 std::function<void()> on_close)
      : session_(std::move(session)), handler_(std::move(handler)), limits_(limits), on_close_(std::move(on_close)) {}

  void start(const tls::ByteVector& initial) {
    if (initial.empty()) return do_read();
    on_datagram(initial);
  }

  // write_response answers the request |to| with |rsp| (a block of it if
  // it is over the block size: 512 bytes, or the smaller size the request
  // asked for in its Block2 option, which RFC 7959 2.4 makes binding), then
  // reads the next message.
  void write_response(const ReplyTo& to, const Response& rsp) {
    coap::Message m = coap::from_response(rsp);
    if (m.payload.size() > coap::Block{0, false, to.block2_szx}.size() || to.block2_num > 0) {
      full_ = m;
      full_key_ = to.key;
      return send_block(to, full_, to.block2_num, to.block2_szx);
    }
    send_answer(to, std::move(m));
  }

 private:
  void do_read() {
    session_->async_read([self = shared_from_this()](Result<tls::ByteVector> bytes) {
      if (!bytes) return self->finish();
      self->on_datagram(*bytes);
    });
  }

  void on_datagram(const tls::ByteVector& bytes) {
    auto m = coap::decode(bytes);
    if (!m) {
      // RFC 7252 4.2/4.3: a message that cannot be processed is rejected
      // with a Reset (if its header can be read), never answered otherwise.
      if (auto h = coap::peek_header(bytes); h && (h->first == coap::Type::con || h->first == coap::Type::non)) {
        return send_reset(h->second);
      }
      return do_read();
    }
    if (coap::is_empty(*m)) {
      if (m->type == coap::Type::con) return send_reset(m->mid);  // CoAP ping
      return do_read();
    }
    if (!coap::is_request(*m) || m->type == coap::Type::ack || m->type == coap::Type::rst) {
      // This server sends no confirmable messages: nothing here to match.
      if (m->type == coap::Type::con) return send_reset(m->mid);
      return do_read();
    }
    if (m->type == coap::Type::con) {
      for (const auto& [mid, answer] : recent_) {
        if (mid == m->mid) return write(answer);  // a retransmission: the same answer again
      }
    }
    on_request(std::move(*m));
  }

  static std::string request_key(const coap::Message& m) {
    std::string key;
    for (const auto& o : m.options) {
      if (o.number == coap::options::uri_path || o.number == coap::options::m2m_rqi ||
          o.number == coap::options::m2m_fr || o.number == coap::options::uri_query) {
        key += std::to_string(o.number) + ":" + o.value + '\0';
      }
    }
    return key;
  }

  void on_request(coap::Message m) {
    ReplyTo to{m.type, m.mid, m.token, request_key(m), 0, coap::kBlockSzx};
    if (const coap::Option* b2 = m.find(coap::options::block2)) {
      auto blk = coap::parse_block(b2->value);
      if (!blk) return refuse(to, coap::codes::bad_option, Rsc::bad_request, blk.error().message());
      to.block2_num = blk->num;
      to.block2_szx = std::min(blk->szx, coap::kBlockSzx);
      if (blk->num > 0 && full_key_ == to.key) return send_block(to, full_, blk->num, to.block2_szx);
    }
    if (const coap::Option* b1 = m.find(coap::options::block1)) {
      auto blk = coap::parse_block(b1->value);
      if (!blk) return refuse(to, coap::codes::bad_option, Rsc::bad_request, blk.error().message());
      if (blk->num == 0) {
        body_key_ = to.key;
        body_.clear();
        body_szx_ = blk->szx;
      } else if (body_key_ != to.key || blk->szx != body_szx_ || blk->num * blk->size() != body_.size()) {
        body_key_.clear();
        body_.clear();
        return refuse(to, coap::codes::request_entity_incomplete, Rsc::bad_request, "Block1 block out of order");
      }
      if (blk->more && m.payload.size() != blk->size()) {
        body_key_.clear();
        return refuse(to, coap::codes::bad_request, Rsc::bad_request, "Block1 block of the wrong size");
      }
      body_ += m.payload;
      if (body_.size() > limits_.max_body) {
        body_key_.clear();
        body_.clear();
        return refuse(to, coap::codes::entity_too_large, Rsc::bad_request, "request payload over the limit");
      }
      if (blk->more) {
        coap::Message cont;
        cont.code = coap::codes::continue_;
        cont.add(coap::options::block1, coap::encode_block(*blk));
        return send_answer(to, std::move(cont));
      }
      m.payload = std::move(body_);
      body_.clear();
      body_key_.clear();
    } else if (m.payload.size() > limits_.max_body) {
      return refuse(to, coap::codes::entity_too_large, Rsc::bad_request, "request payload over the limit");
    }
    auto req = coap::to_request(m);
    if (!req) return refuse(to, req.error().code, req.error().rsc, req.error().message, m);
    handle(to, std::move(*req));
  }

  // handle is the exception barrier of handler dispatch.
  void handle(const ReplyTo& to, Request req) {
    auto pending = std::make_shared<PendingReply>(shared_from_this(), to, req.rqi);
    Reply reply = [pending](Response rsp) { pending->send(std::move(rsp)); };
    try {
      handler_(req, reply);
    } catch (const std::exception& e) {
      spdlog::error("coap: handler failed on {} {}: {}", operation_name(req.op), printable(req.to), printable(e.what()));
      reply(error_response(req, Rsc::internal_server_error, "internal error"));
    } catch (...) {
      spdlog::error("coap: handler failed on {} {}", operation_name(req.op), printable(req.to));
      reply(error_response(req, Rsc::internal_server_error, "internal error"));
    }
  }

  // refuse answers a request the binding could not take, with the RQI it
  // carried if any.
  void refuse(const ReplyTo& to, std::uint8_t code, Rsc rsc, const std::string& message,
              const coap::Message& req = {}) {
    Response rsp;
    rsp.rsc = rsc;
    if (const coap::Option* rqi = req.find(coap::options::m2m_rqi)) rsp.rqi = rqi->value;
    rsp.content = nlohmann::json{{"m2m:dbg", message}};
    coap::Message m = coap::from_response(rsp);
    m.code = code;
    send_answer(to, std::move(m));
  }

  void send_block(const ReplyTo& to, const coap::Message& full, std::uint32_t num, unsigned szx) {
    const coap::Block blk{num, false, szx};
    const std::size_t offset = static_cast<std::size_t>(num) * blk.size();
    if (offset >= full.payload.size() && !(num == 0 && full.payload.empty())) {
      return refuse(to, coap::codes::bad_option, Rsc::bad_request, "Block2 number past the end", full);  // its RQI
    }
    coap::Message m = full;
    m.payload = full.payload.substr(offset, blk.size());
    m.add(coap::options::block2, coap::encode_block({num, offset + blk.size() < full.payload.size(), szx}));
    if (num == 0) m.add_uint(coap::options::size2, static_cast<std::uint32_t>(full.payload.size()));
    send_answer(to, std::move(m));
  }

  // send_answer sends |m| as the answer to |to|: piggybacked on the ACK
  // of a confirmable request, else non-confirmable.
  void send_answer(const ReplyTo& to, coap::Message m) {
    m.token = to.token;
    if (to.type == coap::Type::con) {
      m.type = coap::Type::ack;
      m.mid = to.mid;
    } else {
      m.type = coap::Type::non;
      m.mid = next_mid_++;
    }
    auto bytes = coap::encode(m);
    if (!bytes) {
      spdlog::error("coap: could not encode an answer: {}", bytes.error().message());
      return send_reset(to.mid);
    }
    if (to.type == coap::Type::con) {
      recent_.emplace_back(to.mid, *bytes);
      if (recent_.size() > kRecentAnswers) recent_.pop_front();
    }
    write(std::move(*bytes));
  }

  void send_reset(std::uint16_t mid) {
    coap::Message rst;
    rst.type = coap::Type::rst;
    rst.mid = mid;
    auto bytes = coap::encode(rst);
    write(bytes ? std::move(*bytes) : tls::ByteVector{});
  }

  void write(tls::ByteVector bytes) {
    if (bytes.empty()) return do_read();
    session_->async_write(std::move(bytes), [self = shared_from_this()](Status st) {
      if (!st) return self->finish();
      self->do_read();
    });
  }

  void finish() {
    if (finished_.exchange(true)) return;
    detail::end_session(*session_, on_close_, kName);
  }

  std::shared_ptr<tls::Session> session_;
  RequestHandler handler_;
  HttpLimits limits_;
  std::function<void()> on_close_;
  std::atomic<bool> finished_{false};
  std::deque<std::pair<std::uint16_t, tls::ByteVector>> recent_;  // CON message ID -> its answer
  std::uint16_t next_mid_ = 1;
  // Block1 assembly of one request at a time.
  std::string body_key_, body_;
  unsigned body_szx_ = 0;
  // The last large response, for its Block2 follow-ups.
  std::string full_key_;
  coap::Message full_;
};

}  // namespace

void serve_coap(std::shared_ptr<tls::Session> session, RequestHandler handler, HttpLimits limits,
                std::function<void()> on_close, const tls::ByteVector& initial) {
  std::make_shared<CoapConnection>(std::move(session), std::move(handler), limits, std::move(on_close))->start(initial);
}

namespace {

// Sniffer reads a session's first datagram and hands the session to the
// binding it shows (DtlsBinding::automatic).
struct Sniffer {
  std::shared_ptr<tls::Session> session;
  RequestHandler handler;
  HttpLimits limits;
  std::function<void()> on_close;

  // Out of line: GCC 12 at -O3 inlines it into the std::function thunk
  // and then warns, wrongly, that the expected's vector may be uninitialised.
  [[gnu::noinline]] void on_first(const Result<tls::ByteVector>& bytes) {
    if (!bytes.has_value()) return detail::end_session(*session, on_close, "dtls");
    const tls::ByteVector& first = bytes.value();
    if (looks_like_http(first)) {
      return serve_http(std::move(session), std::move(handler), limits, std::move(on_close), first);
    }
    serve_coap(std::move(session), std::move(handler), limits, std::move(on_close), first);
  }
};

}  // namespace

void serve_dtls(std::shared_ptr<tls::Session> session, DtlsBinding binding, RequestHandler handler, HttpLimits limits,
                std::function<void()> on_close) {
  if (binding == DtlsBinding::coap) return serve_coap(std::move(session), std::move(handler), limits, std::move(on_close));
  if (binding == DtlsBinding::http) return serve_http(std::move(session), std::move(handler), limits, std::move(on_close));
  auto sniffer = std::make_shared<Sniffer>(Sniffer{session, std::move(handler), limits, std::move(on_close)});
  session->async_read([sniffer](Result<tls::ByteVector> bytes) { sniffer->on_first(bytes); });
}

}  // namespace m2msec::proto
