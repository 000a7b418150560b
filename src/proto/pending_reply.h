// pending_reply.h: the shared state behind one request's Reply, for the
// HTTP and CoAP servers. Whoever holds the last copy of the Reply without
// having answered (a handler that dropped it, a worker job that threw)
// makes it answer 5000, so a peer never waits for the idle timeout on a
// lost request.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>
#include <string>

#include "m2msec/core/printable.h"
#include "m2msec/proto/primitive.h"

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

}  // namespace m2msec::proto::detail
