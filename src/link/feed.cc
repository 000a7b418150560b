#include "m2msec/link/feed.h"

#include "m2msec/proto/http_client.h"

namespace m2msec::link {

FeedFollower::FeedFollower(Link& link, Peer peer, std::string prefix, std::string from, FeedPosition start,
                           Apply apply, Save save)
    : link_(link),
      peer_(std::move(peer)),
      prefix_(std::move(prefix)),
      from_(std::move(from)),
      pos_(std::move(start)),
      saved_(pos_),
      apply_(std::move(apply)),
      save_(std::move(save)) {}

Status FeedFollower::poll(std::chrono::milliseconds timeout) {
  // Bounded: a feed that keeps growing faster than it is read is caught up
  // with at the next poll.
  for (int pages = 0; pages < 1000; ++pages) {
    proto::Request req;
    req.op = proto::Operation::retrieve;
    req.to = prefix_ + std::to_string(pos_.seq);
    req.from = from_;
    auto rsp = link_.call(peer_, std::move(req), timeout, /*repeatable=*/true);
    if (!rsp) return std::unexpected(rsp.error());
    if (auto st = proto::expect_success(*rsp); !st) return st;
    auto feed = proto::RevocationFeed::from_json(rsp->content);
    if (!feed) return std::unexpected(feed.error());
    if (feed->epoch.empty()) return fail(Errc::malformed_message, "revocation feed without an epoch");
    const bool new_log = (!pos_.epoch.empty() && feed->epoch != pos_.epoch) || feed->head < pos_.seq;
    if (new_log && pos_.seq != 0) {
      // Everything in a log we have not read may concern us.
      pos_ = FeedPosition{feed->epoch, 0};
      continue;
    }
    FeedPosition next{feed->epoch, feed->head};
    if (pos_.seq >= 0) {
      if (!feed->entries.empty()) {
        if (Status st = apply_(feed->entries); !st) return st;
      }
      if (feed->more && !feed->entries.empty()) next.seq = feed->entries.back().seq;
    }
    const bool more = pos_.seq >= 0 && feed->more && !feed->entries.empty();
    pos_ = std::move(next);
    // Saved only when it moved: an idle feed costs no write per poll.
    if (save_ && !(pos_ == saved_)) {
      if (Status st = save_(pos_); !st) return st;
      saved_ = pos_;
    }
    if (!more) {
      synced_ = true;
      return {};
    }
  }
  return {};
}

}  // namespace m2msec::link
