#include "m2msec/proto/http_server.h"

#include <atomic>

namespace m2msec::proto {
namespace {

// HttpConnection runs the read -> handle -> write loop for one session.
class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(std::shared_ptr<tls::Session> session, RequestHandler handler, HttpLimits limits,
                 std::function<void()> on_close)
      : session_(std::move(session)),
        handler_(std::move(handler)),
        reader_(limits),
        on_close_(std::move(on_close)) {}

  void start() { do_next(); }

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

  void handle(Request req) {
    auto self = shared_from_this();
    auto replied = std::make_shared<std::atomic<bool>>(false);
    handler_(req, session_, [self, replied](Response rsp) {
      if (replied->exchange(true)) return;  // a second reply is a bug; ignore it
      self->do_write(encode_response(rsp), /*then_close=*/false);
    });
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
    do_write(encode_response(error_response(dummy, Rsc::bad_request, err.message())), /*then_close=*/true);
  }

  void finish() {
    if (finished_.exchange(true)) return;
    session_->close();
    if (on_close_) on_close_();
  }

  std::shared_ptr<tls::Session> session_;
  RequestHandler handler_;
  RequestReader reader_;
  std::function<void()> on_close_;
  std::atomic<bool> finished_{false};
};

}  // namespace

void serve_http(std::shared_ptr<tls::Session> session, RequestHandler handler, HttpLimits limits,
                std::function<void()> on_close) {
  std::make_shared<HttpConnection>(std::move(session), std::move(handler), limits, std::move(on_close))->start();
}

}  // namespace m2msec::proto
