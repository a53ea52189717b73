#include "core/in_flight_calls.h"

#include "core/units.h"

namespace ubc {

void InFlightCalls::Prune(MemberReader& members, int keep_tid) {
  // A call the thread has left is in the kernel's figure (or failed): only
  // those still inside it, or on a CPU where it cannot be told, stay.
  std::erase_if(calls_, [&](const auto& entry) {
    return entry.first != keep_tid &&
           members.Progress(entry.first, entry.second.nr, entry.second.args) == CallProgress::kDone;
  });
}

uint64_t InFlightCalls::Total() const {
  uint64_t total = 0;
  for (const auto& [tid, entry] : calls_) total = SaturatingAdd(total, entry.amount);
  return total;
}

}  // namespace ubc
