#include "core/container_accounting.h"

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <new>
#include <type_traits>
#include <vector>

#include "core/monotonic_clock.h"

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

uint64_t SaturatingSub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

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

}  // namespace

ContainerAccounting::ContainerAccounting(uint64_t barrier_pages, uint64_t limit_pages,
                                         const RuleProfile& profile)
    : ContainerAccounting(barrier_pages, limit_pages, profile, Tuning{}) {}

ContainerAccounting::ContainerAccounting(uint64_t barrier_pages, uint64_t limit_pages,
                                         const RuleProfile& profile, Tuning tuning)
    : profile_(&profile), tuning_(tuning), counter_(barrier_pages, limit_pages) {
  PublishLocked();  // readers see the bounds before the first decision
}

Status ContainerAccounting::RefreshLocked(MemberReader& members) {
  forgotten_tids_.clear();
  ledger_.ReleaseFinished(members, &forgotten_tids_);
  std::erase_if(movers_, [&](const Mover& m) {
    return members.Progress(m.call.tid, m.call.nr, m.call.args) == CallProgress::kDone;
  });
  for (int tid : forgotten_tids_) images_.ForgetThread(tid);
  const bool shared_in_privvm = profile_->shared_memory_in_privvmpages;
  if (shared_in_privvm) members.CountSharedAnonymous();
  if (Status s = members.Sample(&sample_); !s.ok()) {
    return s.Wrap("sampling container processes");
  }
  if (shared_in_privvm) {
    // openvz: each shared object once, beside the private pages (the SysV
    // segments from the container's IPC namespace, as shmpages counts them).
    Result<ShmUsage> sysv = members.SharedMemory();
    if (!sysv.ok()) return sysv.status().Wrap("reading SysV shared memory");
    sample_.data_pages =
        SaturatingAdd(sample_.data_pages, SaturatingAdd(sysv->pages, sample_.shared_anon_pages));
    shm_.SetSharedAnonymousPages(sample_.shared_anon_pages);
  }
  // What is remembered of processes the sample does not list is forgotten
  // when the reader says the member set may have changed.
  const bool prune = sample_.generation != pruned_generation_;
  const uint64_t exact = ledger_.ApplySample(sample_, prune);
  if (prune) {
    pruned_generation_ = sample_.generation;
    images_.PruneGone(sample_, [this](int tid) { return ledger_.KnowsThread(tid); });
    locked_.PruneGone([this](int tgid) { return sample_.DataPagesOf(tgid) == nullptr; });
  }
  processes_ = sample_.processes;
  exact_at_ms_ = CoarseMonotonicMs();
  ++exact_epoch_;
  // Outstanding calls may be counted twice here (a fork whose child already
  // shows in the sample), and so may a range an mremap in flight is moving;
  // maxheld records only what the container certainly held. Admitted charges
  // raise it at admission (held + n, within the bound).
  uint64_t moving_pages = 0;
  for (const Mover& m : movers_) moving_pages = SaturatingAdd(moving_pages, m.moved_pages);
  certain_pages_ = SaturatingSub(sample_.data_pages, moving_pages);
  counter_.ObserveHeldUpperBound(exact, certain_pages_);
  return Status::Ok();
}

bool ContainerAccounting::KnownTgidLocked(int tid, int* tgid) const {
  // Most callers are single-threaded (tid == tgid); other threads are looked
  // up once and remembered while they keep calling.
  if (ledger_.HasSpace(tid)) {
    *tgid = tid;
    return true;
  }
  return images_.TgidOf(tid, tgid);
}

int ContainerAccounting::TgidOfLocked(int tid, MemberReader& members) {
  if (int known; KnownTgidLocked(tid, &known)) return known;
  const int tgid = members.ThreadGroupOf(tid);
  images_.SetTgid(tid, tgid);
  return tgid;
}

Result<uint64_t> ContainerAccounting::CurrentBrkLocked(TargetReader& target) {
  Result<std::vector<MapEntry>> maps = target.Maps();
  if (!maps.ok()) return maps.status();
  if (std::optional<uint64_t> end = HeapEnd(*maps)) return *end;
  Result<ImageFacts> image = target.Image();
  if (!image.ok()) return image.status();
  return image->start_brk;
}

void ContainerAccounting::RememberBrkLocked(const Planning& p, uint64_t brk) {
  if (p.brk_tgid >= 0) images_.SetBreak(p.brk_tgid, brk);
}

Decision ContainerAccounting::Decide(const TrappedCall& call, TargetReader& target,
                                     MemberReader& members) {
  Decision d;
  std::lock_guard<std::mutex> lock(mu_);
  DecideLocked(call, target, members, d);
  if (tasks_.has_pending()) {
    // numproc admitted the fork first; privvmpages refusing it takes it back.
    if (d.refused || d.kill_caller || d.action != Decision::Action::kContinue) {
      tasks_.CancelPending();
    } else {
      tasks_.CommitPending();
    }
  }
  if (locked_.has_pending()) {
    // lockedpages admitted the mapping first; privvmpages refusing it takes
    // that charge back (failcnt moves only on the counter that refused).
    if (d.refused || d.kill_caller) {
      locked_.CancelPending();
    } else {
      locked_.CommitPending();
    }
  }
  if ((d.call.kind == CallKind::kMlockall || d.call.kind == CallKind::kMunlockall) &&
      d.action == Decision::Action::kContinue) {
    // mlockall sets MCL_FUTURE or clears it (apply_mlockall_flags);
    // munlockall clears it.
    locked_.SetFuture(TgidOfLocked(call.tid, members),
                      d.call.kind == CallKind::kMlockall && (d.call.lock_flags & kMclFuture) != 0);
  }
  if (d.call.kind == CallKind::kMremap && d.action == Decision::Action::kContinue) {
    // The thread's previous entry went at this call's start. A fixed target
    // always moves; MREMAP_MAYMOVE moves only a growth that does not fit in place.
    const uint64_t kept_bytes = std::min(d.call.length_bytes, d.call.new_length_bytes);
    const bool moves = d.call.fixed || (d.call.may_move && d.call.new_length_bytes > kept_bytes);
    movers_.push_back({call, moves ? PagesForBytes(kept_bytes) : 0});
  }
  PublishLocked();
  return d;
}

bool ContainerAccounting::CreditIsSafeLocked(const TrappedCall& call, TargetReader& target) {
  // A MAP_FIXED's credit (the private pages it replaces) holds only if no
  // other call can move those pages away before the kernel runs it. An
  // mremap ubcd let through may still be on its way; one the kernel trapped
  // may be waiting for ubcd behind this very decision, invisible to it. So a
  // credit is taken only in a process with one thread and no mremap of
  // another thread outstanding.
  for (const Mover& mover : movers_) {
    if (mover.call.tid != call.tid) return false;
  }
  Result<ImageFacts> image = target.Image();
  return image.ok() && image->threads <= 1;
}

bool ContainerAccounting::PrepareBrkLocked(const TrappedCall& call, TargetReader& target,
                                           MemberReader& members, Planning& p, Decision& d) {
  // Away from the bound a brk is planned from the break its process last
  // set (or start_brk right after an exec); the exact path reads the real
  // one from /proc/PID/maps. An exec resets what is remembered, so the old
  // image's break never plans the new image's heap.
  p.brk_tgid = TgidOfLocked(call.tid, members);
  const ProcessImageCache::BreakState* cached =
      p.brk_tgid < 0 ? nullptr : images_.Break(p.brk_tgid);
  p.brk_from_cache = cached != nullptr;
  p.brk_growth_pending = p.brk_from_cache && cached->high > cached->low;
  // Growths admitted since the last exact read are in the estimate: plan
  // from the highest of them. Once an exact read has replaced the estimate,
  // a growth the kernel refused is in neither: plan from the lowest.
  // kBreakAtStart here: the image read after the exec failed; read the break.
  Result<uint64_t> brk =
      cached == nullptr || cached->low == ProcessImageCache::kBreakAtStart
          ? CurrentBrkLocked(target)
          : Result<uint64_t>(cached->epoch == exact_epoch_ ? cached->high : cached->low);
  if (!brk.ok()) {
    d.note = "caller vanished: " + brk.status().message();
    return false;
  }
  p.context.current_brk = *brk;
  if (!p.brk_from_cache) RememberBrkLocked(p, *brk);
  return true;
}

void ContainerAccounting::AdmitLocked(const TrappedCall& call, MemberReader& members,
                                      const Planning& p, uint64_t held, Decision& d) {
  d.held_pages = held;
  counter_.RecordCharge(held, d.plan.pages);
  if (d.plan.persistent && d.plan.pages > 0) {
    ledger_.Reserve(call, d.call, d.plan, TgidOfLocked(call.tid, members));
  }
  // An admitted brk growth is not taken for the new break: the kernel may
  // still refuse it (RLIMIT_DATA, a mapping in the way), and a break
  // remembered too high would plan a later growth as a shrink once the
  // estimate no longer holds this charge. See ProcessImageCache::BreakState.
  if (d.call.kind == CallKind::kBrk && p.brk_tgid >= 0) {
    images_.NoteBreakGrowthAdmitted(p.brk_tgid, d.call.addr, exact_epoch_);
  }
  if (d.call.kind == CallKind::kFork) members.ExpectNewProcess(ForkerOf(call.tid, d.call));
}

bool ContainerAccounting::ChargeShmpagesLocked(const TrappedCall& call, MemberReader& members,
                                               Decision& d) {
  // What privvmpages decided stays in `d` unless shmpages refuses.
  const uint64_t held = d.held_pages, bound = d.bound_pages;
  if (!shm_.Charge(call, d.plan.pages, members, d)) return false;
  d.held_pages = held;
  d.bound_pages = bound;
  return true;
}

void ContainerAccounting::DecideShmgetLocked(const TrappedCall& call, MemberReader& members,
                                             Decision& d) {
  if (!profile_->shared_memory_in_privvmpages) {
    shm_.Decide(call, d.call, members, d);
    return;
  }
  // openvz: a new segment is charged to privvmpages as well, checked against
  // its barrier on the kernel's figure first; a refusal there leaves
  // shmpages alone, and one by shmpages leaves privvmpages alone.
  const uint64_t pages = PagesForBytes(d.call.length_bytes);
  if (pages == 0) return;  // EINVAL: creates nothing
  if (Status s = RefreshLocked(members); !s.ok()) {
    d.note = s.message();
    d.undecidable = true;
    return;
  }
  d.exact = true;
  d.plan.check = ChargeCheck::kBarrier;
  d.plan.pages = pages;
  d.plan.grows_caller_data = false;
  d.bound_pages = BoundFor(ChargeCheck::kBarrier, counter_.values());
  const uint64_t held = ledger_.Estimate();
  d.held_pages = held;
  if (!counter_.Fits(held, pages, ChargeCheck::kBarrier)) {
    counter_.RecordRefusal();
    d.refused = true;
    d.action = Decision::Action::kFail;
    d.error_number = ENOMEM;
    return;
  }
  shm_.Decide(call, d.call, members, d);
  if (d.refused || d.undecidable) return;
  // Until the thread moves on the segment may not exist yet; then the
  // namespace's figure, which every exact read adds, has it.
  counter_.RecordCharge(held, pages);
  ledger_.Reserve(call, d.call, d.plan, TgidOfLocked(call.tid, members));
}

uint64_t ContainerAccounting::CallerLockedPagesLocked(TargetReader& target, uint64_t addr,
                                                      uint64_t length_bytes, bool* unknown) {
  *unknown = false;
  // Most processes lock nothing: VmLck 0 says so without reading smaps.
  Result<uint64_t> vm_locked = target.LockedPages();
  if (vm_locked.ok() && *vm_locked == 0) return 0;
  Result<std::vector<AddressRange>> ranges =
      vm_locked.ok() ? target.LockedRanges()
                     : Result<std::vector<AddressRange>>(vm_locked.status());
  if (!ranges.ok()) {
    *unknown = true;
    return 0;
  }
  return PagesCovered(*ranges, addr, length_bytes);
}

void ContainerAccounting::DecideLockingCallLocked(const TrappedCall& call, TargetReader& target,
                                                  MemberReader& members, Decision& d) {
  d.resource = "lockedpages";
  if (d.call.kind == CallKind::kMunlockall || !locked_.limited()) return;
  // MCL_FUTURE alone locks nothing now; the mappings that follow are charged
  // as they are made.
  if (d.call.kind == CallKind::kMlockall && (d.call.lock_flags & kMclCurrent) == 0) return;
  // The members' distinct address spaces, whose VmLck makes held.
  if (Status s = RefreshLocked(members); !s.ok()) {
    d.note = s.message();
    d.undecidable = true;
    return;
  }
  uint64_t pages = 0;
  switch (d.call.kind) {
    case CallKind::kMlock: {
      // Only mapped pages lock (a hole fails the rest with ENOMEM), and
      // pages locked already are in VmLck.
      Result<std::vector<MapEntry>> maps = target.Maps();
      if (!maps.ok()) {
        d.note = "caller vanished: " + maps.status().message();
        return;
      }
      bool unknown = false;
      const uint64_t locked =
          CallerLockedPagesLocked(target, d.call.addr, d.call.length_bytes, &unknown);
      pages = SaturatingSub(RangeFactsFor(*maps, d.call.addr, d.call.length_bytes).mapped_pages,
                            locked);
      break;
    }
    case CallKind::kMlockall: {
      // MCL_CURRENT locks every mapping (total_vm) not locked yet.
      Result<ImageFacts> image = target.Image();
      Result<uint64_t> vm_locked = target.LockedPages();
      if (!image.ok() || !vm_locked.ok()) {
        d.note = "caller vanished";
        return;
      }
      pages = SaturatingSub(image->vm_pages, *vm_locked);
      break;
    }
    case CallKind::kShmLock: {
      Result<ShmSegment> segment = members.SharedSegment(static_cast<int>(d.call.addr));
      if (!segment.ok()) {
        d.note = "lockedpages: " + segment.status().message();
        d.undecidable = true;
        return;
      }
      if (!segment->exists || segment->locked) return;  // EINVAL, or nothing new
      pages = segment->pages;
      break;
    }
    default:
      return;
  }
  d.plan = ChargePlan{};
  d.plan.check = ChargeCheck::kBarrier;
  d.plan.pages = pages;
  d.plan.grows_caller_data = false;
  d.bound_pages = std::min(locked_.values().barrier_pages, locked_.values().limit_pages);
  // mlockall(MCL_CURRENT) ignores a refusal and returns 0 (the reference).
  if (!locked_.Charge(call, pages, d.call.kind == CallKind::kMlockall, members, d)) return;
  d.exact = true;
  locked_.CommitPending();  // no other counter decides these calls
}

bool ContainerAccounting::ChargeLockedMappingLocked(const TrappedCall& call, TargetReader& target,
                                                    MemberReader& members, const Planning& p,
                                                    Decision& d) {
  uint64_t pages = 0;
  switch (d.call.kind) {
    case CallKind::kMmapPrivateWritable:
    case CallKind::kMmapSharedAnonWritable:
    case CallKind::kMmapUncharged: {
      bool future = false;
      if (!d.call.map_locked && locked_.any_future()) {
        future = locked_.Future(TgidOfLocked(call.tid, members));
      }
      // A MAP_FIXED takes no credit for locked pages it replaces: an upper bound.
      if (d.call.map_locked || future) pages = PagesForBytes(d.call.length_bytes);
      break;
    }
    case CallKind::kBrk:
      if (d.plan.check != ChargeCheck::kNone && locked_.any_future() &&
          locked_.Future(p.brk_tgid)) {
        pages = d.plan.pages;
      }
      break;
    case CallKind::kMremap: {
      // The growth of a locked mapping is locked (mremap keeps its flags).
      const uint64_t old_pages = PagesForBytes(d.call.length_bytes);
      const uint64_t new_pages = PagesForBytes(d.call.new_length_bytes);
      const uint64_t growth = d.call.dont_unmap ? new_pages : SaturatingSub(new_pages, old_pages);
      if (growth == 0) break;
      bool unknown = false;
      const uint64_t locked =
          CallerLockedPagesLocked(target, d.call.addr, d.call.length_bytes, &unknown);
      if (locked > 0 || unknown) pages = growth;
      break;
    }
    default:
      break;
  }
  if (pages == 0) return true;
  if (Status s = RefreshLocked(members); !s.ok()) {
    d.resource = "lockedpages";
    d.note = s.message();
    d.undecidable = true;
    return false;
  }
  if (locked_.Charge(call, pages, false, members, d)) return true;
  if (d.refused && d.call.kind == CallKind::kBrk) {
    // A refused brk returns the kernel's break, never a remembered one.
    Result<uint64_t> brk = CurrentBrkLocked(target);
    if (brk.ok()) {
      d.action = Decision::Action::kReturn;
      d.return_value = *brk;
    }
  }
  return false;
}

bool ContainerAccounting::TryEstimateLocked(const TrappedCall& call, MemberReader& members,
                                            Planning& p, Decision& d) {
  // Away from the bound, the estimate decides without reading /proc. It is
  // the last exact value plus everything admitted since, so it only runs
  // behind the truth by what the kernel did unasked (stack growth), and it
  // is refreshed every max_fast_decisions calls. A request that would come
  // within the headroom of the bound is always decided exactly.
  const bool parent_unknown =
      d.call.kind == CallKind::kFork && !p.context.parent_private_pages.has_value();
  // openvz charges a shared anonymous mapping to shmpages as well, which is
  // decided on the kernel's figure.
  const bool also_shmpages =
      profile_->shared_memory_in_privvmpages && d.call.kind == CallKind::kMmapSharedAnonWritable;
  if (!ledger_.have_exact() || ledger_.fast_decisions() >= tuning_.max_fast_decisions ||
      p.image_unknown || parent_unknown || d.plan.must_resolve_range || also_shmpages) {
    return false;
  }
  bool fits = SaturatingAdd(ledger_.Estimate(), d.plan.pages) <= p.threshold_pages;
  if (!fits && ledger_.HasForks() && ledger_.DropReapedForks(members)) {
    fits = SaturatingAdd(ledger_.Estimate(), d.plan.pages) <= p.threshold_pages;
  }
  if (!fits) return false;
  ledger_.NoteFastDecision();
  AdmitLocked(call, members, p, ledger_.Estimate(), d);
  return true;
}

bool ContainerAccounting::ReplanBrkFromKernelLocked(TargetReader& target, Planning& p,
                                                    Decision& d) {
  Result<uint64_t> brk = CurrentBrkLocked(target);
  if (!brk.ok()) {
    d.note = "caller vanished: " + brk.status().message();
    return false;
  }
  p.brk_from_cache = false;
  p.brk_growth_pending = false;
  p.context.current_brk = *brk;
  RememberBrkLocked(p, *brk);
  BuildInPlace(d.plan, [&] { return PlanCharge(d.call, *profile_, p.context); });
  if (d.plan.check == ChargeCheck::kNone) {
    RememberBrkLocked(p, d.call.addr);  // a shrink from the real break: nothing to charge
    return false;
  }
  d.bound_pages = BoundFor(d.plan.check, counter_.values());
  return true;
}

void ContainerAccounting::DecideExactLocked(const TrappedCall& call, TargetReader& target,
                                            MemberReader& members, Planning& p, Decision& d) {
  if (Status s = RefreshLocked(members); !s.ok()) {
    // The container's on_error says what happens (fail open by default: a
    // decision that cannot be made must not break the container's programs).
    d.note = s.message();
    d.undecidable = true;
    return;
  }
  d.exact = true;
  const BeancounterValues& v = counter_.values();
  if (d.call.kind == CallKind::kFork) {
    // The parent's statm from the read just made; a process the listing
    // does not show yet has its own statm opened.
    const uint64_t* listed = p.fork_tgid < 0 ? nullptr : sample_.DataPagesOf(p.fork_tgid);
    Result<uint64_t> data = listed != nullptr ? Result<uint64_t>(*listed) : target.DataPages();
    if (!data.ok()) {
      d.note = "caller vanished: " + data.status().message();
      return;
    }
    p.context.parent_private_pages = *data;
    BuildInPlace(d.plan, [&] { return PlanCharge(d.call, *profile_, p.context); });
    d.bound_pages = BoundFor(d.plan.check, v);
  }
  // Read only to refresh held (the estimate was stale), a remembered break
  // still plans the call unless a growth since may have moved it; where the
  // bound is close the real one is read.
  if (p.brk_from_cache && (p.brk_growth_pending ||
                           SaturatingAdd(ledger_.Estimate(), d.plan.pages) > p.threshold_pages)) {
    if (!ReplanBrkFromKernelLocked(target, p, d)) return;
  }
  if (!d.plan.exact) {
    // mprotect, MAP_FIXED and mremap: the range's current mappings.
    Result<std::vector<MapEntry>> maps = target.Maps();
    if (!maps.ok()) {
      d.note = "caller vanished: " + maps.status().message();
      return;
    }
    p.context.range = CallRangeFacts(*maps, d.call);
    if (d.call.fixed && d.call.kind == CallKind::kMmapPrivateWritable &&
        p.context.range->private_writable_pages > 0 && !CreditIsSafeLocked(call, target)) {
      // Another thread's mremap may move the replaced pages away before this
      // call runs: they would stay mapped elsewhere, so nothing is credited.
      p.context.range->private_writable_pages = 0;
    }
    BuildInPlace(d.plan, [&] { return PlanCharge(d.call, *profile_, p.context); });
    if (d.plan.check == ChargeCheck::kNone) return;
    d.bound_pages = BoundFor(d.plan.check, v);
  }
  const uint64_t held = ledger_.Estimate();
  if (counter_.Fits(held, d.plan.pages, d.plan.check)) {
    if (profile_->shared_memory_in_privvmpages &&
        d.call.kind == CallKind::kMmapSharedAnonWritable &&
        !ChargeShmpagesLocked(call, members, d)) {
      return;  // refused by shmpages (its failcnt only), or undecidable
    }
    AdmitLocked(call, members, p, held, d);
    return;
  }

  if (d.plan.refuse_with_old_break && p.brk_from_cache) {
    // A refused brk returns the break, and glibc builds its heap on that
    // value: it must be the kernel's, never a remembered one (a wrong break
    // is worse than a slow one). Planned again from it, the call may fit.
    if (!ReplanBrkFromKernelLocked(target, p, d)) return;
    if (counter_.Fits(held, d.plan.pages, d.plan.check)) {
      AdmitLocked(call, members, p, held, d);
      return;
    }
  }
  counter_.RecordRefusal();
  d.refused = true;
  d.held_pages = held;
  if (d.plan.refuse_with_old_break && p.context.current_brk) {
    // brk reports failure by returning the unchanged break; glibc's sbrk
    // turns that into ENOMEM and malloc falls back to mmap.
    d.action = Decision::Action::kReturn;
    d.return_value = *p.context.current_brk;
  } else {
    d.action = Decision::Action::kFail;
    d.error_number = ENOMEM;
  }
}

// Fills `d` in place rather than returning it: the notification path copies
// no Decision (it carries a string).
void ContainerAccounting::DecideLocked(const TrappedCall& call, TargetReader& target,
                                       MemberReader& members, Decision& d) {
  // A thread making a new call has finished its previous one: the kernel's
  // counters hold that charge now.
  ledger_.CallCompleted(call.tid, members);
  shm_.CallCompleted(call.tid);
  locked_.CallCompleted(call.tid);
  tasks_.CallCompleted(call.tid);
  if (!movers_.empty()) {
    std::erase_if(movers_, [&](const Mover& m) { return m.call.tid == call.tid; });
  }
  BuildInPlace(d.call, [&] { return ClassifyTrappedSyscall(call.arch, call.nr, call.args); });
  if (d.call.abi == SyscallAbi::kUnknown) {
    // The filter only admits the x86 ABIs; anything else is let through.
    d.note = "unknown architecture, not accounted";
    return;
  }
  if (d.call.kind == CallKind::kRefusedAbi) {
    // Not a beancounter refusal: failcnt does not move.
    d.action = Decision::Action::kFail;
    d.error_number = ENOSYS;
    d.note = "i386 old_mmap passes its arguments in user memory: refused";
    return;
  }
  if (d.call.kind == CallKind::kExec) {
    // The new image's address space starts without MCL_FUTURE.
    if (locked_.any_future()) locked_.SetFuture(TgidOfLocked(call.tid, members), false);
    ForgetImageLocked(call.tid);
    return;
  }
  if (d.call.kind == CallKind::kShmget) {
    DecideShmgetLocked(call, members, d);
    return;
  }
  if (d.call.kind == CallKind::kMlock || d.call.kind == CallKind::kMlockall ||
      d.call.kind == CallKind::kMunlockall || d.call.kind == CallKind::kShmLock) {
    DecideLockingCallLocked(call, target, members, d);
    return;
  }
  if (tasks_.limited() &&
      (d.call.kind == CallKind::kFork || d.call.kind == CallKind::kThreadOrVfork)) {
    // numproc before privvmpages: a task past the limit is EAGAIN whatever
    // memory it would take.
    if (Status s = RefreshLocked(members); !s.ok()) {
      d.resource = "numproc";
      d.note = s.message();
      d.undecidable = true;
      return;
    }
    if (!tasks_.Charge(call, members, d)) return;
    if (d.call.kind == CallKind::kThreadOrVfork) {
      d.resource = "numproc";
      d.exact = true;
      return;  // no memory of its own to charge
    }
  }
  Planning p;
  NoteNewImageLocked(call, target, members, p, d);
  if (d.kill_caller) return;
  if (d.call.kind == CallKind::kFork) {
    // The child's charge is the parent's private pages. Away from the bound
    // the parent's estimate plans it without reading anything; otherwise
    // the exact read gives it. Forks are far apart, so whatever is read for
    // one finds the kernel's data cold: each read costs tens of µs.
    p.fork_tgid = TgidOfLocked(call.tid, members);
    if (uint64_t pages; p.fork_tgid >= 0 && ledger_.SpaceEstimate(p.fork_tgid, &pages)) {
      p.context.parent_private_pages = pages;
    }
  }
  if (d.call.kind == CallKind::kBrk && !PrepareBrkLocked(call, target, members, p, d)) return;
  BuildInPlace(d.plan, [&] { return PlanCharge(d.call, *profile_, p.context); });
  if (locked_.limited() && !ChargeLockedMappingLocked(call, target, members, p, d)) return;
  if (d.plan.check == ChargeCheck::kNone) {
    // A shrink or a move within the same page always succeeds.
    if (d.call.kind == CallKind::kBrk) RememberBrkLocked(p, d.call.addr);
    return;
  }
  d.bound_pages = BoundFor(d.plan.check, counter_.values());
  p.threshold_pages = std::max(d.bound_pages / 100 * tuning_.fast_path_percent,
                               d.bound_pages > tuning_.fast_path_headroom_pages
                                   ? d.bound_pages - tuning_.fast_path_headroom_pages
                                   : 0);
  if (TryEstimateLocked(call, members, p, d)) return;
  DecideExactLocked(call, target, members, p, d);
}

AccountingSnapshot ContainerAccounting::Refresh(MemberReader& members) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!retired_) {
    // On failure the last known values stand.
    if (RefreshLocked(members).ok()) {
      (void)locked_.Refresh(members);
      if (tasks_.limited()) (void)tasks_.Refresh(members);
    }
    (void)shm_.Refresh(members);
  }
  PublishLocked();
  AccountingSnapshot s = SnapshotLocked();
  s.privvmpages.held_pages = counter_.values().held_pages;
  return s;
}

AccountingSnapshot ContainerAccounting::SnapshotLocked() const {
  AccountingSnapshot s;
  s.privvmpages = counter_.values();
  s.privvmpages.held_pages = counter_.ShownHeld(ledger_.Estimate(), certain_pages_);
  s.shmpages = shm_.values();
  s.lockedpages = locked_.values();
  if (tasks_.limited()) s.numproc = tasks_.values();
  s.processes = processes_;
  s.reservations = ledger_.ActiveReservations();
  s.exact_at_ms = exact_at_ms_;
  return s;
}

AccountingSnapshot ContainerAccounting::Peek() const {
  std::lock_guard<std::mutex> lock(mu_);
  return SnapshotLocked();
}

void ContainerAccounting::SetLimits(uint64_t barrier_pages, uint64_t limit_pages) {
  std::lock_guard<std::mutex> lock(mu_);
  counter_.SetLimits(barrier_pages, limit_pages);
  PublishLocked();
}

void ContainerAccounting::SetShmLimits(uint64_t barrier_pages, uint64_t limit_pages) {
  std::lock_guard<std::mutex> lock(mu_);
  shm_.SetLimits(barrier_pages, limit_pages);
  PublishLocked();
}

void ContainerAccounting::SetLockedLimits(uint64_t barrier_pages, uint64_t limit_pages) {
  std::lock_guard<std::mutex> lock(mu_);
  locked_.SetLimits(barrier_pages, limit_pages);
  PublishLocked();
}

void ContainerAccounting::SetTaskLimits(uint64_t barrier, uint64_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  tasks_.SetLimits(barrier, limit);
  PublishLocked();
}

void ContainerAccounting::RestoreTasks(uint64_t maxheld, uint64_t failcnt) {
  std::lock_guard<std::mutex> lock(mu_);
  tasks_.Restore(maxheld, failcnt);
  PublishLocked();
}

void ContainerAccounting::RestoreLocked(uint64_t maxheld_pages, uint64_t failcnt) {
  std::lock_guard<std::mutex> lock(mu_);
  locked_.Restore(maxheld_pages, failcnt);
  PublishLocked();
}

void ContainerAccounting::Restore(uint64_t maxheld_pages, uint64_t failcnt) {
  std::lock_guard<std::mutex> lock(mu_);
  counter_.Restore(maxheld_pages, failcnt);
  PublishLocked();
}

void ContainerAccounting::RestoreShm(uint64_t maxheld_pages, uint64_t failcnt) {
  std::lock_guard<std::mutex> lock(mu_);
  shm_.Restore(maxheld_pages, failcnt);
  PublishLocked();
}

void ContainerAccounting::Retire(MemberReader& members) {
  std::lock_guard<std::mutex> lock(mu_);
  members.ReleaseAll();
  retired_ = true;
  ledger_.Clear();
  images_.Clear();
  processes_ = 0;
  counter_.ObserveHeld(0);
  sample_.data_pages = 0;  // a retired container shows no held past its limit
  certain_pages_ = 0;
  movers_.clear();
  shm_.Retire();
  locked_.Retire();
  tasks_.Retire();
  PublishLocked();
}

}  // namespace ubc
