#include "m2msec/proto/http_server.h"

#include <spdlog/spdlog.h>

#include <exception>

#include "m2msec/core/printable.h"
#include "pending_reply.h"

namespace m2msec::proto {
namespace {

class HttpConnection;
// ReplyContext is what answering a request needs beyond its RQI: whether
// it asked for the connection to close after the answer.
struct ReplyContext {
  bool close = false;
};
using PendingReply = detail::PendingReply<HttpConnection, ReplyContext>;

// HttpConnection runs the read -> handle -> write loop for one session.
class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(std::shared_ptr<tls::Session> session, RequestHandler handler, HttpLimits limits,
                 std::function<void()> on_close)
      : session_(std::move(session)),
        handler_(std::move(handler)),
        reader_(limits),
        on_close_(std::move(on_close)) {}

  static constexpr const char* kName = "http";

  void start(const tls::ByteVector& initial) {
    if (!initial.empty()) {
      if (auto st = reader_.feed(initial); !st) return fail_malformed(st.error());
    }
    do_next();
  }

  // write_response encodes and sends |rsp|, then serves the next request,
  // or closes the session if the request said "Connection: close".
  void write_response(ReplyContext ctx, const Response& rsp) {
    std::string text;
    try {
      text = encode_response(rsp, ctx.close);
    } catch (const std::exception& e) {
      spdlog::error("http: could not encode a response: {}", printable(e.what()));
      text = encode_response(Response{Rsc::internal_server_error, rsp.rqi, nullptr}, ctx.close);
    }
    do_write(text, ctx.close);
  }

 private:
  // do_next serves a buffered request if there is one, else reads more.
  void do_next() {
    auto req = reader_.next();
    if (!req) return fail_malformed(req.error());
    if (!*req) return do_read();
    handle(std::move(**req));
  }

  void do_read() {
    session_->async_read([self = shared_from_this()](Result<tls::ByteVector> bytes) { self->on_read(std::move(bytes)); });
  }

  void on_read(Result<tls::ByteVector> bytes) {
    if (!bytes) return finish();
    if (auto st = reader_.feed(*bytes); !st) return fail_malformed(st.error());
    do_next();
  }

  // handle is the exception barrier of handler dispatch: whatever the
  // handler throws becomes one log line and a 5000 answer.
  void handle(Request req) {
    auto pending = std::make_shared<PendingReply>(shared_from_this(), ReplyContext{req.close}, req.rqi);
    Reply reply = [pending](Response rsp) { pending->send(std::move(rsp)); };
    try {
      handler_(req, reply);
    } catch (const std::exception& e) {
      spdlog::error("http: handler failed on {} {}: {}", operation_name(req.op), printable(req.to),
                    printable(e.what()));
      reply(error_response(req, Rsc::internal_server_error, "internal error"));
    } catch (...) {
      spdlog::error("http: handler failed on {} {}", operation_name(req.op), printable(req.to));
      reply(error_response(req, Rsc::internal_server_error, "internal error"));
    }
  }

  void do_write(const std::string& text, bool then_close) {
    tls::ByteVector bytes(text.begin(), text.end());
    session_->async_write(std::move(bytes), [self = shared_from_this(), then_close](Status st) {
      self->on_write(st, then_close);
    });
  }

  void on_write(Status st, bool then_close) {
    if (!st || then_close) return finish();
    do_next();
  }

  void fail_malformed(const Error& err) {
    Request dummy;
    dummy.rqi = "";
    do_write(encode_response(error_response(dummy, Rsc::bad_request, err.message()), /*close=*/true),
             /*then_close=*/true);
  }

  void finish() {
    if (finished_.exchange(true)) return;
    detail::end_session(*session_, on_close_, kName);
  }

  std::shared_ptr<tls::Session> session_;
  RequestHandler handler_;
  RequestReader reader_;
  std::function<void()> on_close_;
  std::atomic<bool> finished_{false};
};

}  // namespace

void serve_http(std::shared_ptr<tls::Session> session, RequestHandler handler, HttpLimits limits,
                std::function<void()> on_close, const tls::ByteVector& initial) {
  std::make_shared<HttpConnection>(std::move(session), std::move(handler), limits, std::move(on_close))->start(initial);
}

}  // namespace m2msec::proto
