#include "core/container_accounting.h"

#include <algorithm>
#include <cerrno>
#include <new>
#include <type_traits>
#include <vector>

namespace ubc {
namespace {

uint64_t BoundFor(ChargeCheck check, const BeancounterValues& v) {
  switch (check) {
    case ChargeCheck::kBarrier:
      return std::min(v.barrier_pages, v.limit_pages);
    case ChargeCheck::kLimit:
      return v.limit_pages;
    case ChargeCheck::kNone:
      break;
  }
  return kUnlimitedPages;
}

// The thread whose children a fork's new process is among, for the reader.
int ForkerOf(int tid, const ClassifiedCall& call) { return call.sibling ? -1 : tid; }

// target = make(), with make()'s result built in target itself. Assigning a
// returned struct copies it with wide loads right after the callee's narrow
// stores, which stalls on store forwarding: measured (perf) as the largest
// cost of a fast decision. Only for trivially destructible types.
template <typename T, typename Make>
void BuildInPlace(T& target, Make make) {
  static_assert(std::is_trivially_destructible_v<T>);
  ::new (static_cast<void*>(&target)) T(make());
}

// The range whose current mappings decide the exact charge of a call.
std::pair<uint64_t, uint64_t> ResolvedRange(const ClassifiedCall& call) {
  return {call.addr, call.length_bytes};  // mmap MAP_FIXED, mprotect, mremap's old range
}

}  // namespace

ContainerAccounting::ContainerAccounting(uint64_t barrier_pages, uint64_t limit_pages,
                                         const RuleProfile& profile)
    : ContainerAccounting(barrier_pages, limit_pages, profile, Tuning{}) {}

ContainerAccounting::ContainerAccounting(uint64_t barrier_pages, uint64_t limit_pages,
                                         const RuleProfile& profile, Tuning tuning)
    : profile_(&profile), tuning_(tuning), counter_(barrier_pages, limit_pages) {}

uint64_t ContainerAccounting::EstimateLocked() const {
  return SaturatingAdd(exact_held_pages_, admitted_since_exact_pages_);
}

const uint64_t* MembersSample::DataPagesOf(int tgid) const {
  auto it = std::lower_bound(data_pages_by_tgid.begin(), data_pages_by_tgid.end(),
                             std::make_pair(tgid, uint64_t{0}));
  return it != data_pages_by_tgid.end() && it->first == tgid ? &it->second : nullptr;
}

Status ContainerAccounting::RefreshLocked(MemberReader& members) {
  // Calls known to be done are released before sampling: one completing
  // between the two reads is then counted twice (briefly) instead of never.
  for (auto it = reservations_.begin(); it != reservations_.end();) {
    if (!it->second.active && it->second.idle_at_last_read) {
      // A thread that had nothing outstanding at two exact reads in a row is
      // probably gone: forget it (and its tgid and break) to bound the maps.
      tgid_by_tid_.erase(it->first);
      it = reservations_.erase(it);
    } else if (!it->second.active) {
      it->second.idle_at_last_read = true;
      ++it;
    } else if (members.Progress(it->first, it->second.nr, it->second.args) ==
               CallProgress::kDone) {
      ReleaseLocked(it->second, members);
      ++it;
    } else {
      ++it;
    }
  }
  if (Status s = members.Sample(&sample_); !s.ok()) {
    return s.Wrap("sampling container processes");
  }
  const MembersSample* sample = &sample_;

  uint64_t extra = 0;
  for (const auto& [tgid, data] : sample->data_pages_by_tgid) {
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
  if (sample->generation != pruned_generation_) PruneGoneLocked();
  // Outstanding calls of threads whose process the sample did not list.
  for (const auto& [tid, r] : reservations_) {
    if (r.active && sample->DataPagesOf(r.tgid) == nullptr) extra = SaturatingAdd(extra, r.pages);
  }
  exact_held_pages_ = SaturatingAdd(sample->data_pages, extra);
  admitted_since_exact_pages_ = 0;
  forks_since_exact_.clear();
  processes_ = sample->processes;
  fast_decisions_ = 0;
  have_exact_ = true;
  // Outstanding calls may be counted twice here (a fork whose child already
  // shows in the sample); maxheld records only what the kernel reported.
  // Admitted charges raise it at admission (held + n, within the bound).
  counter_.ObserveHeldUpperBound(exact_held_pages_, sample->data_pages);
  return Status::Ok();
}

// Forgets what is remembered of processes the last sample did not list; run
// when the reader says the member set may have changed.
void ContainerAccounting::PruneGoneLocked() {
  pruned_generation_ = sample_.generation;
  auto gone = [this](int tgid) { return sample_.DataPagesOf(tgid) == nullptr; };
  std::erase_if(spaces_, [&](const auto& e) { return gone(e.first); });
  std::erase_if(brk_by_tgid_, [&](const auto& e) { return gone(e.first); });
  std::erase_if(exec_pending_, gone);
  std::erase_if(tgid_by_tid_,
                [&](const auto& e) { return gone(e.second) && reservations_.count(e.first) == 0; });
}

void ContainerAccounting::ReserveLocked(const TrappedCall& call, const ClassifiedCall& classified,
                                        const ChargePlan& plan, MemberReader& members) {
  admitted_since_exact_pages_ = SaturatingAdd(admitted_since_exact_pages_, plan.pages);
  const bool grows = plan.grows_caller_data;
  Reservation& r = reservations_[call.tid];
  r = Reservation{true, false, call.nr, call.args, plan.pages, call.tid, grows, 0};
  if (classified.kind == CallKind::kFork) {
    r.forker_tid = ForkerOf(call.tid, classified);
    // A CLONE_PARENT child is not among the forker's children: its charge
    // stays until the next exact read.
    if (r.forker_tid > 0 && forks_since_exact_.size() < 64) {
      forks_since_exact_.push_back({r.forker_tid, plan.pages, false});
    }
  }
  r.tgid = TgidOfLocked(call.tid, members);
  if (grows) {
    auto space = spaces_.find(r.tgid);
    if (space != spaces_.end() && space->second.has_base) {
      space->second.admitted_pages = SaturatingAdd(space->second.admitted_pages, plan.pages);
    }
  }
}

void ContainerAccounting::ReleaseLocked(Reservation& r, MemberReader& members) {
  // A completed fork has a child to be found.
  if (r.forker_tid != 0) members.ExpectNewProcess(r.forker_tid);
  for (ForkCharge& f : forks_since_exact_) {
    if (f.forker_tid == r.forker_tid) f.completed = true;
  }
  r.active = false;
}

bool ContainerAccounting::DropReapedForksLocked(MemberReader& members) {
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

bool ContainerAccounting::KnownTgidLocked(int tid, int* tgid) const {
  // Most callers are single-threaded (tid == tgid); other threads are looked
  // up once and remembered while they keep calling.
  if (spaces_.count(tid) != 0) {
    *tgid = tid;
    return true;
  }
  auto cached = tgid_by_tid_.find(tid);
  if (cached == tgid_by_tid_.end()) return false;
  *tgid = cached->second;
  return true;
}

int ContainerAccounting::TgidOfLocked(int tid, MemberReader& members) {
  if (int known; KnownTgidLocked(tid, &known)) return known;
  return tgid_by_tid_[tid] = members.ThreadGroupOf(tid);
}

void ContainerAccounting::ForgetImageLocked(int tid) {
  // After the exec the process's only thread has tid == tgid (a non-main
  // thread that execs takes the main thread's id). A thread not mapped to
  // its process yet is taken for a main thread: most exec callers are a
  // fresh child, and reading /proc/TID/status here would cost more than
  // the rare miss (which leaves the estimate as stale as without the trap).
  // If the exec fails, the old image goes on: its next brk is planned from
  // start_brk (too low, so charged too much, and only away from the bound).
  int tgid = tid;
  (void)KnownTgidLocked(tid, &tgid);
  if (tgid < 0) tgid = tid;  // remembered as gone; the exec says otherwise
  brk_by_tgid_[tgid] = kBreakAtStart;
  exec_pending_.insert(tgid);
}

Result<uint64_t> ContainerAccounting::CurrentBrkLocked(TargetReader& target) {
  Result<std::vector<MapEntry>> maps = target.Maps();
  if (!maps.ok()) return maps.status();
  if (std::optional<uint64_t> end = HeapEnd(*maps)) return *end;
  Result<ImageFacts> image = target.Image();
  if (!image.ok()) return image.status();
  return image->start_brk;
}

Decision ContainerAccounting::Decide(const TrappedCall& call, TargetReader& target,
                                     MemberReader& members) {
  Decision d;
  std::lock_guard<std::mutex> lock(mu_);
  DecideLocked(call, target, members, d);
  return d;
}

// Fills `d` in place rather than returning it: the notification path copies
// no Decision (it carries a string).
void ContainerAccounting::DecideLocked(const TrappedCall& call, TargetReader& target,
                                       MemberReader& members, Decision& d) {
  // A thread making a new call has finished its previous one: the kernel's
  // counters hold that charge now. It stays in the estimate until the next
  // exact read and in its address space's admitted pages until that space is
  // quiescent.
  if (auto it = reservations_.find(call.tid); it != reservations_.end() && it->second.active) {
    ReleaseLocked(it->second, members);
  }
  if (call.arch != kAuditArchX86_64) {
    // The filter's rules are written for x86-64 numbers and argument layouts;
    // a foreign-architecture call cannot be classified, so it is not charged.
    d.note = "foreign architecture, not accounted";
    return;
  }
  BuildInPlace(d.call, [&] { return ClassifySyscall(call.nr, call.args); });
  if (d.call.kind == CallKind::kExec) {
    ForgetImageLocked(call.tid);
    return;
  }
  // The first call after an exec adds the new image (what the kernel mapped
  // unasked: data, bss, stack) to the estimate, bounded by its vsize: one
  // read of /proc/PID/stat, which also gives the new break. The old image's
  // pages stay in the estimate until the next exact read, so it errs high.
  // If the read fails the call is decided exactly.
  bool image_unknown = false;
  if (!exec_pending_.empty() && exec_pending_.erase(call.tid) != 0) {
    // The caller is now its process's main thread: its tid is the tgid.
    if (spaces_.count(call.tid) == 0) tgid_by_tid_[call.tid] = call.tid;
    Result<ImageFacts> image = target.Image();
    if (image.ok()) {
      admitted_since_exact_pages_ = SaturatingAdd(admitted_since_exact_pages_, image->vm_pages);
      auto brk = brk_by_tgid_.find(call.tid);
      if (brk != brk_by_tgid_.end() && brk->second == kBreakAtStart) brk->second = image->start_brk;
    } else {
      image_unknown = true;
    }
  }

  ChargeContext context;
  int fork_tgid = -1;
  if (d.call.kind == CallKind::kFork) {
    // The child's charge is the parent's private pages. Away from the bound
    // the parent's estimate (its statm at the last exact read plus what was
    // admitted for it since) plans it without reading anything; otherwise
    // the exact read below gives it. Forks are far apart, so whatever is
    // read for one finds the kernel's data cold: each read costs tens of µs.
    fork_tgid = TgidOfLocked(call.tid, members);
    auto space = fork_tgid < 0 ? spaces_.end() : spaces_.find(fork_tgid);
    if (space != spaces_.end() && space->second.has_base) {
      context.parent_private_pages =
          SaturatingAdd(space->second.base_data_pages, space->second.admitted_pages);
    }
  }
  const bool parent_unknown =
      d.call.kind == CallKind::kFork && !context.parent_private_pages.has_value();
  // Away from the bound a brk is planned from the break its process last
  // set (or start_brk right after an exec); the exact path reads the real
  // one from /proc/PID/maps. An exec resets what is remembered, so the old
  // image's break never plans the new image's heap.
  bool brk_from_cache = false;
  int brk_tgid = -1;
  if (d.call.kind == CallKind::kBrk) {
    brk_tgid = TgidOfLocked(call.tid, members);
    auto cached = brk_tgid < 0 ? brk_by_tgid_.end() : brk_by_tgid_.find(brk_tgid);
    brk_from_cache = cached != brk_by_tgid_.end();
    // kBreakAtStart here: the image read after the exec failed; read the break.
    Result<uint64_t> brk = !brk_from_cache || cached->second == kBreakAtStart
                               ? CurrentBrkLocked(target)
                               : Result<uint64_t>(cached->second);
    if (!brk.ok()) {
      d.note = "caller vanished: " + brk.status().message();
      return;
    }
    context.current_brk = *brk;
  }
  auto remember_brk = [&](uint64_t brk) {
    if (brk_tgid >= 0) brk_by_tgid_[brk_tgid] = brk;
  };
  BuildInPlace(d.plan, [&] { return PlanCharge(d.call, *profile_, context); });
  if (d.plan.check == ChargeCheck::kNone) {
    // A shrink or a move within the same page always succeeds.
    if (d.call.kind == CallKind::kBrk) remember_brk(d.call.addr);
    return;
  }

  const BeancounterValues& v = counter_.values();
  d.bound_pages = BoundFor(d.plan.check, v);

  auto admit = [&](uint64_t held) {
    d.held_pages = held;
    counter_.RecordCharge(held, d.plan.pages);
    if (d.plan.persistent && d.plan.pages > 0) ReserveLocked(call, d.call, d.plan, members);
    if (d.call.kind == CallKind::kBrk) remember_brk(d.call.addr);
    if (d.call.kind == CallKind::kFork) members.ExpectNewProcess(ForkerOf(call.tid, d.call));
  };

  // Away from the bound, the estimate decides without reading /proc. It is
  // the last exact value plus everything admitted since, so it only runs
  // behind the truth by what the kernel did unasked (stack growth), and it
  // is refreshed every max_fast_decisions calls. A request that would come
  // within the headroom of the bound is always decided exactly.
  const uint64_t threshold = std::max(d.bound_pages / 100 * tuning_.fast_path_percent,
                                      d.bound_pages > tuning_.fast_path_headroom_pages
                                          ? d.bound_pages - tuning_.fast_path_headroom_pages
                                          : 0);
  if (have_exact_ && fast_decisions_ < tuning_.max_fast_decisions && !image_unknown &&
      !parent_unknown) {
    bool fits = SaturatingAdd(EstimateLocked(), d.plan.pages) <= threshold;
    if (!fits && !forks_since_exact_.empty() && DropReapedForksLocked(members)) {
      fits = SaturatingAdd(EstimateLocked(), d.plan.pages) <= threshold;
    }
    if (fits) {
      ++fast_decisions_;
      admit(EstimateLocked());
      return;
    }
  }

  if (Status s = RefreshLocked(members); !s.ok()) {
    // By default failing open: a decision that cannot be made must not break
    // the container's programs; an operator may prefer the limit to hold.
    d.note = s.message();
    if (fail_closed_) {
      d.action = Decision::Action::kFail;
      d.error_number = ENOMEM;
    }
    return;
  }
  d.exact = true;
  if (d.call.kind == CallKind::kFork) {
    // The parent's statm from the read just made; a process the listing
    // does not show yet has its own statm opened.
    const uint64_t* listed = fork_tgid < 0 ? nullptr : sample_.DataPagesOf(fork_tgid);
    Result<uint64_t> data = listed != nullptr ? Result<uint64_t>(*listed) : target.DataPages();
    if (!data.ok()) {
      d.note = "caller vanished: " + data.status().message();
      return;
    }
    context.parent_private_pages = *data;
    BuildInPlace(d.plan, [&] { return PlanCharge(d.call, *profile_, context); });
    d.bound_pages = BoundFor(d.plan.check, v);
  }
  // Read only to refresh held (the estimate was stale), a remembered break
  // still plans the call; where the bound is close the real one is read.
  if (brk_from_cache && SaturatingAdd(EstimateLocked(), d.plan.pages) > threshold) {
    Result<uint64_t> brk = CurrentBrkLocked(target);
    if (!brk.ok()) {
      d.note = "caller vanished: " + brk.status().message();
      return;
    }
    context.current_brk = *brk;
    remember_brk(*brk);
    BuildInPlace(d.plan, [&] { return PlanCharge(d.call, *profile_, context); });
    if (d.plan.check == ChargeCheck::kNone) {
      remember_brk(d.call.addr);
      return;
    }
    d.bound_pages = BoundFor(d.plan.check, v);
  }
  if (!d.plan.exact) {
    Result<std::vector<MapEntry>> maps = target.Maps();
    if (!maps.ok()) {
      d.note = "caller vanished: " + maps.status().message();
      return;
    }
    auto [addr, length] = ResolvedRange(d.call);
    context.range = RangeFactsFor(*maps, addr, length);
    BuildInPlace(d.plan, [&] { return PlanCharge(d.call, *profile_, context); });
    if (d.plan.check == ChargeCheck::kNone) return;
    d.bound_pages = BoundFor(d.plan.check, v);
  }
  const uint64_t held = EstimateLocked();
  if (counter_.Fits(held, d.plan.pages, d.plan.check)) {
    admit(held);
    return;
  }

  counter_.RecordRefusal();
  d.refused = true;
  d.held_pages = held;
  if (d.plan.refuse_with_old_break && context.current_brk) {
    remember_brk(*context.current_brk);
    // brk reports failure by returning the unchanged break; glibc's sbrk
    // turns that into ENOMEM and malloc falls back to mmap.
    d.action = Decision::Action::kReturn;
    d.return_value = *context.current_brk;
  } else {
    d.action = Decision::Action::kFail;
    d.error_number = ENOMEM;
  }
}

AccountingSnapshot ContainerAccounting::Refresh(MemberReader& members) {
  std::lock_guard<std::mutex> lock(mu_);
  (void)RefreshLocked(members);  // on failure the last known values stand
  AccountingSnapshot s;
  s.privvmpages = counter_.values();
  s.processes = processes_;
  s.reservations = static_cast<uint64_t>(std::count_if(
      reservations_.begin(), reservations_.end(), [](const auto& e) { return e.second.active; }));
  return s;
}

AccountingSnapshot ContainerAccounting::Peek() const {
  std::lock_guard<std::mutex> lock(mu_);
  AccountingSnapshot s;
  s.privvmpages = counter_.values();
  s.privvmpages.held_pages = EstimateLocked();
  s.processes = processes_;
  s.reservations = static_cast<uint64_t>(std::count_if(
      reservations_.begin(), reservations_.end(), [](const auto& e) { return e.second.active; }));
  return s;
}

void ContainerAccounting::SetLimits(uint64_t barrier_pages, uint64_t limit_pages) {
  std::lock_guard<std::mutex> lock(mu_);
  counter_.SetLimits(barrier_pages, limit_pages);
}

void ContainerAccounting::SetFailClosed(bool fail_closed) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_closed_ = fail_closed;
}

void ContainerAccounting::Restore(uint64_t maxheld_pages, uint64_t failcnt) {
  std::lock_guard<std::mutex> lock(mu_);
  counter_.Restore(maxheld_pages, failcnt);
}

void ContainerAccounting::Retire(MemberReader& members) {
  std::lock_guard<std::mutex> lock(mu_);
  members.ReleaseAll();
  reservations_.clear();
  spaces_.clear();
  tgid_by_tid_.clear();
  brk_by_tgid_.clear();
  exec_pending_.clear();
  exact_held_pages_ = 0;
  admitted_since_exact_pages_ = 0;
  forks_since_exact_.clear();
  processes_ = 0;
  counter_.ObserveHeld(0);
}

}  // namespace ubc
