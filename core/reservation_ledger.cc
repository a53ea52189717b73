#include "core/reservation_ledger.h"

#include <algorithm>

namespace ubc {

void ReservationLedger::AddToEstimate(uint64_t pages) {
  admitted_since_exact_pages_ = SaturatingAdd(admitted_since_exact_pages_, pages);
}

void ReservationLedger::Release(Reservation& r, MemberReader& members) {
  // A completed fork has a child to be found.
  if (r.forker_tid != 0) members.ExpectNewProcess(r.forker_tid);
  for (ForkCharge& f : forks_since_exact_) {
    if (f.forker_tid == r.forker_tid) f.completed = true;
  }
  if (r.active) --active_;
  r.active = false;
}

void ReservationLedger::CallCompleted(int tid, MemberReader& members) {
  // It stays in the estimate until the next exact read and in its address
  // space's admitted pages until that space is quiescent.
  if (auto it = reservations_.find(tid); it != reservations_.end() && it->second.active) {
    Release(it->second, members);
  }
}

void ReservationLedger::Reserve(const TrappedCall& call, const ClassifiedCall& classified,
                                const ChargePlan& plan, int tgid) {
  admitted_since_exact_pages_ = SaturatingAdd(admitted_since_exact_pages_, plan.pages);
  const bool grows = plan.grows_caller_data;
  Reservation& r = reservations_[call.tid];
  if (!r.active) ++active_;  // (a new entry is value-initialised: inactive)
  r = Reservation{true, false, call.nr, call.args, plan.pages, tgid, grows, 0};
  if (classified.kind == CallKind::kFork) {
    r.forker_tid = classified.sibling ? -1 : call.tid;
    // A CLONE_PARENT child is not among the forker's children: its charge
    // stays until the next exact read.
    if (r.forker_tid > 0 && forks_since_exact_.size() < 64) {
      forks_since_exact_.push_back({r.forker_tid, plan.pages, false});
    }
  }
  if (grows) {
    auto space = spaces_.find(tgid);
    if (space != spaces_.end() && space->second.has_base) {
      space->second.admitted_pages = SaturatingAdd(space->second.admitted_pages, plan.pages);
    }
  }
}

bool ReservationLedger::SpaceEstimate(int tgid, uint64_t* pages) const {
  auto space = spaces_.find(tgid);
  if (space == spaces_.end() || !space->second.has_base) return false;
  *pages = SaturatingAdd(space->second.base_data_pages, space->second.admitted_pages);
  return true;
}

bool ReservationLedger::DropReapedForks(MemberReader& members) {
  bool dropped = false;
  int asked_tid = 0;  // one read per forker: entries of one thread are adjacent or few
  bool reaped = false;
  for (auto it = forks_since_exact_.begin(); it != forks_since_exact_.end();) {
    // Only a completed fork: while it runs the child may not be listed yet.
    if (!it->completed) {
      ++it;
      continue;
    }
    if (it->forker_tid != asked_tid) {
      asked_tid = it->forker_tid;
      reaped = members.ChildrenReaped(asked_tid);
    }
    if (!reaped) {
      ++it;
      continue;
    }
    admitted_since_exact_pages_ =
        admitted_since_exact_pages_ > it->pages ? admitted_since_exact_pages_ - it->pages : 0;
    it = forks_since_exact_.erase(it);
    dropped = true;
  }
  return dropped;
}

void ReservationLedger::ReleaseFinished(MemberReader& members, std::vector<int>* forgotten_tids) {
  // Calls known to be done are released before sampling: one completing
  // between the two reads is then counted twice (briefly) instead of never.
  for (auto it = reservations_.begin(); it != reservations_.end();) {
    if (!it->second.active && it->second.idle_at_last_read) {
      // A thread that had nothing outstanding at two exact reads in a row is
      // probably gone: forget it to bound the maps.
      forgotten_tids->push_back(it->first);
      it = reservations_.erase(it);
    } else if (!it->second.active) {
      it->second.idle_at_last_read = true;
      ++it;
    } else if (members.Progress(it->first, it->second.nr, it->second.args) == CallProgress::kDone) {
      Release(it->second, members);
      ++it;
    } else {
      ++it;
    }
  }
}

uint64_t ReservationLedger::ApplySample(const MembersSample& sample, bool prune) {
  uint64_t extra = 0;
  for (const auto& [tgid, data] : sample.data_pages_by_tgid) {
    // Outstanding calls of this address space (inside, or on a CPU where
    // /proc cannot tell). Few threads have one at a time: a scan is cheaper
    // than building an index on every exact decision.
    uint64_t outstanding_data = 0, outstanding_other = 0;
    bool outstanding = false;
    for (const auto& [tid, r] : reservations_) {
      if (!r.active || r.tgid != tgid) continue;
      outstanding = true;
      uint64_t& sum = r.grows_caller_data ? outstanding_data : outstanding_other;
      sum = SaturatingAdd(sum, r.pages);
    }
    AddressSpace& space = spaces_[tgid];
    if (!outstanding) {
      space = AddressSpace{true, data, 0};  // quiescent: statm is the whole truth
      continue;
    }
    if (space.has_base) {
      // The kernel already shows data - base of what was admitted; the rest
      // is still on its way (or was unmapped since: conservative).
      const uint64_t expected = SaturatingAdd(space.base_data_pages, space.admitted_pages);
      if (expected > data) extra = SaturatingAdd(extra, expected - data);
    } else {
      extra = SaturatingAdd(extra, outstanding_data);
    }
    extra = SaturatingAdd(extra, outstanding_other);
  }
  if (prune) {
    std::erase_if(spaces_, [&](const auto& e) { return sample.DataPagesOf(e.first) == nullptr; });
  }
  // Outstanding calls of threads whose process the sample did not list.
  for (const auto& [tid, r] : reservations_) {
    if (r.active && sample.DataPagesOf(r.tgid) == nullptr) extra = SaturatingAdd(extra, r.pages);
  }
  exact_held_pages_ = SaturatingAdd(sample.data_pages, extra);
  admitted_since_exact_pages_ = 0;
  forks_since_exact_.clear();
  fast_decisions_ = 0;
  have_exact_ = true;
  return exact_held_pages_;
}

void ReservationLedger::Clear() {
  reservations_.clear();
  active_ = 0;
  spaces_.clear();
  forks_since_exact_.clear();
  exact_held_pages_ = 0;
  admitted_since_exact_pages_ = 0;
}

}  // namespace ubc
