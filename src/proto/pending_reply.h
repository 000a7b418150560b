// pending_reply.h: what the HTTP and CoAP servers share: the state behind
// one request's Reply, and the end of a session. Whoever holds the last copy of the Reply without
// having answered (a handler that dropped it, a worker job that threw)
// makes it answer 5000, so a peer never waits for the idle timeout on a
// lost request.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <string>

#include "m2msec/core/printable.h"
#include "m2msec/proto/primitive.h"
#include "m2msec/tls/session.h"

namespace m2msec::proto::detail {

// Connection has write_response(const Response&); |context| is the request
// the connection needs to answer it (its RQI at least).
template <typename Connection, typename Context>
struct PendingReply {
  PendingReply(std::shared_ptr<Connection> c, Context ctx, std::string r)
      : conn(std::move(c)), context(std::move(ctx)), rqi(std::move(r)) {}
  ~PendingReply() {
    if (replied.load()) return;
    spdlog::error("{}: request {} was never answered; sending 5000", Connection::kName, printable(rqi));
    conn->write_response(context, Response{Rsc::internal_server_error, rqi, nlohmann::json{{"m2m:dbg", "internal error"}}});
  }
  void send(Response rsp) {
    if (replied.exchange(true)) return;  // a second reply is a bug; ignore it
    conn->write_response(context, rsp);
  }

  std::shared_ptr<Connection> conn;
  Context context;
  std::string rqi;
  std::atomic<bool> replied{false};
};

// end_session closes |session| and runs |on_close| (if set) once; an
// exception it throws is logged, prefixed with |name|, and goes no further.
inline void end_session(tls::Session& session, const std::function<void()>& on_close, const char* name) {
  session.close();
  if (!on_close) return;
  try {
    on_close();
  } catch (const std::exception& e) {
    spdlog::error("{}: session end handler failed: {}", name, printable(e.what()));
  }
}

}  // namespace m2msec::proto::detail
