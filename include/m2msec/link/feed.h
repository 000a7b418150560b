// m2msec/link/feed.h: following an issuer's revocation feed
// (docs/protocol.md "Revocation feed") over a service link.
//
// A holder (the MAF of Km, Entity B of Kc and Kpsa) reads the entries its
// issuer (the MEF, the MAF) logged after its cursor, applies them, and
// moves the cursor on. The issuer needs to know nothing about its holders,
// and a holder that was down reads what it missed before it serves again.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/link/link.h"
#include "m2msec/proto/messages.h"

namespace m2msec::link {

// FeedPosition is how far a holder has applied one issuer's feed: the
// issuer's epoch and the last seq applied. seq -1 (with any epoch) asks
// for the head only: a holder that holds nothing yet need not read what
// came before.
struct FeedPosition {
  std::string epoch;
  std::int64_t seq = -1;
  bool operator==(const FeedPosition&) const = default;
};

class FeedFollower {
 public:
  // Apply applies one page of entries, in order; a failure stops the poll
  // and the cursor stays before the page (it is read again next time).
  using Apply = std::function<Status(const std::vector<proto::RevocationEntry>&)>;
  // Save persists the position after each page that moved it (null: not
  // persisted); a poll that finds nothing new saves nothing.
  using Save = std::function<Status(const FeedPosition&)>;

  // |prefix| is the issuer's feed path (proto::kMefRevocationsPrefix or
  // kMafRevocationsPrefix); |from| the holder's X-M2M-Origin. |link| is
  // borrowed and must outlive the follower.
  FeedFollower(Link& link, Peer peer, std::string prefix, std::string from, FeedPosition start, Apply apply,
               Save save = nullptr);

  // poll reads and applies every page after the position, each call
  // within |timeout|. Fails with the link's error, Errc::malformed_message
  // for a bad answer, or the issuer's refusal. If the issuer's epoch is
  // not the position's, or its head is behind the position (a new or
  // restored log), the feed is read again from its start.
  Status poll(std::chrono::milliseconds timeout);

  // synced is true once a poll has caught up since construction.
  bool synced() const { return synced_; }
  const FeedPosition& position() const { return pos_; }
  const Peer& peer() const { return peer_; }

 private:
  Link& link_;
  Peer peer_;
  std::string prefix_;
  std::string from_;
  FeedPosition pos_;
  FeedPosition saved_;  // the position |save_| last stored (or started from)
  Apply apply_;
  Save save_;
  bool synced_ = false;
};

}  // namespace m2msec::link
