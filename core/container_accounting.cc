#include "core/container_accounting.h"

#include <algorithm>
#include <cerrno>
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
  uint64_t sum = SaturatingAdd(base_data_pages_, settled_pages_);
  for (const auto& [tid, r] : reservations_) sum = SaturatingAdd(sum, r.pages);
  return sum;
}

Status ContainerAccounting::RefreshLocked(MemberReader& members) {
  // Calls known to be done are released before sampling: one completing
  // between the two reads is then counted twice (briefly) instead of never.
  std::vector<int> unknown;
  for (auto it = reservations_.begin(); it != reservations_.end();) {
    switch (members.Progress(it->first, it->second.nr, it->second.args)) {
      case CallProgress::kDone:
        it = reservations_.erase(it);
        continue;
      case CallProgress::kUnknown:
        unknown.push_back(it->first);
        break;
      case CallProgress::kInside:
        break;
    }
    ++it;
  }
  Result<MembersSample> sample = members.Sample();
  if (!sample.ok()) return sample.status().Wrap("sampling container processes");
  // A thread on a CPU may still be inside its call or long past it. Its
  // address space tells: once its data reached the level this call (and the
  // calls admitted before it there) lead to, the kernel counts it.
  for (int tid : unknown) {
    const Reservation& r = reservations_.at(tid);
    auto data = sample->data_pages_by_tgid.find(r.tgid);
    if (r.completed_data_pages && data != sample->data_pages_by_tgid.end() &&
        data->second >= *r.completed_data_pages) {
      reservations_.erase(tid);
    }
  }
  base_data_pages_ = sample->data_pages;
  processes_ = sample->processes;
  settled_pages_ = 0;
  fast_decisions_ = 0;
  have_base_ = true;
  sampled_data_by_tgid_ = std::move(sample->data_pages_by_tgid);
  admitted_since_sample_by_tgid_.clear();
  tgid_by_tid_.clear();
  for (const auto& [tid, r] : reservations_) {
    uint64_t& since = admitted_since_sample_by_tgid_[r.tgid];
    since = SaturatingAdd(since, r.pages);
  }
  counter_.ObserveHeld(EstimateLocked());
  return Status::Ok();
}

void ContainerAccounting::ReserveLocked(const TrappedCall& call, uint64_t pages,
                                        MemberReader& members) {
  Reservation r{call.nr, call.args, pages, call.tid, std::nullopt};
  // Most callers are single-threaded processes (tid == tgid); other threads
  // are looked up once per exact-read period.
  if (sampled_data_by_tgid_.count(call.tid) == 0) {
    auto cached = tgid_by_tid_.find(call.tid);
    r.tgid = cached != tgid_by_tid_.end() ? cached->second
                                          : (tgid_by_tid_[call.tid] = members.ThreadGroupOf(call.tid));
  }
  auto sampled = sampled_data_by_tgid_.find(r.tgid);
  if (sampled != sampled_data_by_tgid_.end()) {
    uint64_t& since = admitted_since_sample_by_tgid_[r.tgid];
    since = SaturatingAdd(since, pages);
    r.completed_data_pages = SaturatingAdd(sampled->second, since);
  }
  reservations_[call.tid] = r;
}

Result<uint64_t> ContainerAccounting::CurrentBrkLocked(TargetReader& target) {
  Result<std::vector<MapEntry>> maps = target.Maps();
  if (!maps.ok()) return maps.status();
  if (std::optional<uint64_t> end = HeapEnd(*maps)) return *end;
  return target.StartBrk();
}

Decision ContainerAccounting::Decide(const TrappedCall& call, TargetReader& target,
                                     MemberReader& members) {
  std::lock_guard<std::mutex> lock(mu_);
  return DecideLocked(call, target, members);
}

Decision ContainerAccounting::DecideLocked(const TrappedCall& call, TargetReader& target,
                                           MemberReader& members) {
  Decision d;
  // A thread making a new call has finished its previous one: the kernel's
  // counters hold that charge now (or will at the next exact read).
  if (auto it = reservations_.find(call.tid); it != reservations_.end()) {
    settled_pages_ = SaturatingAdd(settled_pages_, it->second.pages);
    reservations_.erase(it);
  }
  if (call.arch != kAuditArchX86_64) {
    // The filter's rules are written for x86-64 numbers and argument layouts;
    // a foreign-architecture call cannot be classified, so it is not charged.
    d.note = "foreign architecture, not accounted";
    return d;
  }
  d.call = ClassifySyscall(call.nr, call.args);

  ChargeContext context;
  if (d.call.kind == CallKind::kFork) {
    Result<uint64_t> data = target.DataPages();
    if (!data.ok()) {
      d.note = "caller vanished: " + data.status().message();
      return d;
    }
    context.parent_private_pages = *data;
  } else if (d.call.kind == CallKind::kBrk) {
    Result<uint64_t> brk = CurrentBrkLocked(target);
    if (!brk.ok()) {
      d.note = "caller vanished: " + brk.status().message();
      return d;
    }
    context.current_brk = *brk;
  }
  d.plan = PlanCharge(d.call, *profile_, context);
  if (d.plan.check == ChargeCheck::kNone) return d;

  const BeancounterValues& v = counter_.values();
  d.bound_pages = BoundFor(d.plan.check, v);

  auto admit = [&](uint64_t held) {
    d.held_pages = held;
    counter_.RecordCharge(held, d.plan.pages);
    if (d.plan.persistent && d.plan.pages > 0) ReserveLocked(call, d.plan.pages, members);
    return d;
  };

  // Far below the bound, the estimate decides without reading /proc. It is
  // the last exact value plus everything admitted since, so it only runs
  // behind the truth by what the kernel did unasked (stack growth, exec), and
  // it is refreshed every max_fast_decisions calls.
  if (have_base_ && fast_decisions_ < tuning_.max_fast_decisions) {
    const uint64_t threshold = d.bound_pages / 100 * tuning_.fast_path_percent;
    const uint64_t estimate = EstimateLocked();
    if (SaturatingAdd(estimate, d.plan.pages) <= threshold) {
      ++fast_decisions_;
      return admit(estimate);
    }
  }

  if (Status s = RefreshLocked(members); !s.ok()) {
    // Failing open: a decision that cannot be made must not break the
    // container's programs.
    d.note = s.message();
    return d;
  }
  d.exact = true;
  if (!d.plan.exact) {
    Result<std::vector<MapEntry>> maps = target.Maps();
    if (!maps.ok()) {
      d.note = "caller vanished: " + maps.status().message();
      return d;
    }
    auto [addr, length] = ResolvedRange(d.call);
    context.range = RangeFactsFor(*maps, addr, length);
    d.plan = PlanCharge(d.call, *profile_, context);
    if (d.plan.check == ChargeCheck::kNone) return d;
    d.bound_pages = BoundFor(d.plan.check, v);
  }
  const uint64_t held = EstimateLocked();
  if (counter_.Fits(held, d.plan.pages, d.plan.check)) return admit(held);

  counter_.RecordRefusal();
  d.refused = true;
  d.held_pages = held;
  if (d.plan.refuse_with_old_break && context.current_brk) {
    // brk reports failure by returning the unchanged break; glibc's sbrk
    // turns that into ENOMEM and malloc falls back to mmap.
    d.action = Decision::Action::kReturn;
    d.return_value = *context.current_brk;
  } else {
    d.action = Decision::Action::kFail;
    d.error_number = ENOMEM;
  }
  return d;
}

AccountingSnapshot ContainerAccounting::Refresh(MemberReader& members) {
  std::lock_guard<std::mutex> lock(mu_);
  (void)RefreshLocked(members);  // on failure the last known values stand
  AccountingSnapshot s;
  s.privvmpages = counter_.values();
  s.processes = processes_;
  s.reservations = reservations_.size();
  return s;
}

AccountingSnapshot ContainerAccounting::Peek() const {
  std::lock_guard<std::mutex> lock(mu_);
  AccountingSnapshot s;
  s.privvmpages = counter_.values();
  s.privvmpages.held_pages = EstimateLocked();
  s.processes = processes_;
  s.reservations = reservations_.size();
  return s;
}

void ContainerAccounting::SetLimits(uint64_t barrier_pages, uint64_t limit_pages) {
  std::lock_guard<std::mutex> lock(mu_);
  counter_.SetLimits(barrier_pages, limit_pages);
}

void ContainerAccounting::Retire() {
  std::lock_guard<std::mutex> lock(mu_);
  reservations_.clear();
  sampled_data_by_tgid_.clear();
  admitted_since_sample_by_tgid_.clear();
  tgid_by_tid_.clear();
  base_data_pages_ = 0;
  settled_pages_ = 0;
  processes_ = 0;
  counter_.ObserveHeld(0);
}

}  // namespace ubc
