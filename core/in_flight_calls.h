// InFlightCalls: the calls a counter admitted that the kernel's own figure may
// not show yet, one per thread (a thread makes one call at a time), with what
// each is counted as. ShmCounter, LockedCounter and TaskCounter add these to
// the kernel's figure so that racing threads cannot all pass one barrier.
//
// A call leaves when its thread makes its next trapped call (Erase) or when
// /proc shows the thread out of it (Prune). Not thread-safe: each owner calls
// it under its container's decision mutex.
#pragma once

#include <array>
#include <cstdint>
#include <map>

#include "core/accounting_readers.h"
#include "core/decision.h"

namespace ubc {

class InFlightCalls {
 public:
  // `call` is counted as `amount` (pages, or tasks) until it leaves.
  void Add(const TrappedCall& call, uint64_t amount) {
    calls_[call.tid] = Entry{call.nr, call.args, amount};
  }
  void Erase(int tid) {
    if (!calls_.empty()) calls_.erase(tid);
  }
  // Drops the calls whose thread /proc shows done with them, except the
  // thread `keep_tid`'s (a call being decided right now).
  void Prune(MemberReader& members, int keep_tid = -1);
  // The sum of the amounts, saturating.
  uint64_t Total() const;
  size_t size() const { return calls_.size(); }
  void Clear() { calls_.clear(); }

 private:
  struct Entry {
    int nr;
    std::array<uint64_t, 6> args;
    uint64_t amount;
  };
  std::map<int, Entry> calls_;  // by thread id
};

}  // namespace ubc
