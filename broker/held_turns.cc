// HeldTurns: turns' messages released in order once the commits they wait for are confirmed.
#include "broker/held_turns.h"

namespace titan::broker {

void HeldTurns::Hold(std::optional<uint64_t> ticket, std::vector<Outgoing> out) {
  if (ticket && *ticket > issued_) issued_ = *ticket;
  // A turn without a ticket of its own waits for the newest ticket issued before it; a turn with nothing
  // to send is not kept: the turns after it wait for its ticket (or a newer one) anyway.
  if (failed_ || out.empty()) return;
  messages_ += out.size();
  turns_.push_back(Turn{ticket.value_or(issued_), std::move(out)});
}

bool HeldTurns::Confirm(uint64_t ticket, bool committed, bool lease_valid) {
  if (failed_) return false;
  if (!committed || !lease_valid) {
    failed_ = true;
    turns_.clear();
    messages_ = 0;
    return false;
  }
  if (ticket > confirmed_) confirmed_ = ticket;
  return true;
}

std::vector<Outgoing> HeldTurns::TakeReleasable() {
  std::vector<Outgoing> out;
  while (!failed_ && !turns_.empty() && turns_.front().wait_for <= confirmed_) {
    Turn& t = turns_.front();
    messages_ -= t.out.size();
    if (out.empty()) {
      out = std::move(t.out);
    } else {
      out.insert(out.end(), std::make_move_iterator(t.out.begin()), std::make_move_iterator(t.out.end()));
    }
    turns_.pop_front();
  }
  return out;
}

std::string HeldTurns::Render() const {
  if (failed_) return "failed";
  std::string s;
  for (const Turn& t : turns_) {
    if (!s.empty()) s += ' ';
    s += std::to_string(t.wait_for) + ':' + std::to_string(t.out.size());
  }
  return s;
}

}  // namespace titan::broker
