// ContainerAccounting: one container's privvmpages and shmpages beancounters
// and the decision for each trapped memory syscall (docs/ubc-semantics.md
// §1-§5). shmget is decided by its ShmCounter (core/shm_counter.h), under the
// same mutex.
//
// Held is the kernel's truth (the sum of statm "data" over the container's
// distinct address spaces, read through MemberReader) plus reservations for
// calls this object admitted and that may not have completed yet
// (ReservationLedger). Between exact reads an estimate decides calls that are
// far below their bound without touching /proc, planning brk and fork from
// what is remembered of each process (ProcessImageCache); near a bound, or
// when the estimate is stale, the exact value is read and ranges are resolved
// through TargetReader. The kernel-facing readers are interfaces so the rules
// are unit-tested with fakes.
//
// A call that cannot be decided (the container's processes cannot be read)
// comes back `undecidable`; the caller applies the container's on_error
// (core/decision.h, ApplyOnError).
//
// Thread-safety: every public method locks an internal mutex; several notify-fd
// threads of one container may call Decide() concurrently and are serialised,
// which is what keeps concurrent threads of a container from racing past the
// barrier. Readers passed in are used only during the call.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "core/accounting_readers.h"
#include "core/beancounter.h"
#include "core/decision.h"
#include "core/locked_counter.h"
#include "core/process_image_cache.h"
#include "core/published_value.h"
#include "core/reservation_ledger.h"
#include "core/rule_profile.h"
#include "core/shm_counter.h"
#include "core/syscall_classifier.h"
#include "core/task_counter.h"

namespace ubc {

struct AccountingSnapshot {
  BeancounterValues privvmpages;
  BeancounterValues shmpages;
  BeancounterValues lockedpages;
  // numproc in tasks where ubcd enforces it (no pids cgroup); unlimited
  // bounds otherwise (then the resource gauge has the row).
  BeancounterValues numproc{0, 0, kUnlimitedPages, kUnlimitedPages, 0};
  uint64_t processes = 0;
  uint64_t reservations = 0;
  // CLOCK_MONOTONIC_COARSE (ms) of the exact read held comes from; 0: none yet.
  int64_t exact_at_ms = 0;
};

class ContainerAccounting {
 public:
  // Tunables of the estimate; defaults suit production, tests shrink them.
  struct Tuning {
    // The estimate decides while request + estimate stays at or below
    // max(fast_path_percent of the bound, bound - fast_path_headroom_pages).
    // The headroom is what the kernel may add unasked between two exact reads:
    // 2048 pages is the default RLIMIT_STACK (8 MiB) a main thread's stack can
    // grow by without a trapped call (an exec forces an exact read anyway).
    uint32_t fast_path_percent = 90;
    uint64_t fast_path_headroom_pages = 2048;
    // The estimate is refreshed from the kernel after this many fast decisions.
    uint32_t max_fast_decisions = 64;
  };

  ContainerAccounting(uint64_t barrier_pages, uint64_t limit_pages, const RuleProfile& profile);
  ContainerAccounting(uint64_t barrier_pages, uint64_t limit_pages, const RuleProfile& profile,
                      Tuning tuning);

  Decision Decide(const TrappedCall& call, TargetReader& target, MemberReader& members);

  // Reads the exact held value now (for status) and returns the counters;
  // after Retire() it reads nothing.
  AccountingSnapshot Refresh(MemberReader& members);
  // What the exact check after an exec found (CheckImage).
  struct ImageCheck {
    bool checked = false;     // false: the members could not be read (or retired)
    bool member = false;      // the exact read lists the process
    bool over_limit = false;  // the kernel's held exceeds the limit: the image must not run
    // The kernel's figure (statm sum), without reservations, less what an
    // mremap in flight may count twice.
    uint64_t held_pages = 0;
    uint64_t limit_pages = 0;
    uint64_t image_pages = 0;  // the process's own statm data (its new image and stack)
  };
  // Process `tgid` of this container has gone past an exec's point of no
  // return (the kernel mapped the new image's data, bss and stack without a
  // trapped call): reads the exact held value now, notes the new image as its
  // next trapped call would (the exact read has counted it, so that call
  // adds nothing to the estimate and only reads the image's start_brk), and says
  // whether held exceeds the limit (docs/ubc-semantics.md §3, "exec's own
  // mappings": limit-checked, refused with SIGKILL). Over the limit counts a
  // failcnt; killing the process is the caller's business. The verdict is
  // taken on the kernel's figure only, never on the conservative count of
  // calls in flight: a kill cannot be taken back.
  ImageCheck CheckImage(int tgid, MemberReader& members);
  // Counters as last known, without reading anything.
  AccountingSnapshot Peek() const;
  // The same as the decision path last published it: never takes the
  // decision mutex, so status readers cannot delay a decision (held is the
  // estimate: the last exact read plus what was admitted since).
  AccountingSnapshot Published() const { return published_.Read(); }

  void SetLimits(uint64_t barrier_pages, uint64_t limit_pages);
  void SetShmLimits(uint64_t barrier_pages, uint64_t limit_pages);
  void SetLockedLimits(uint64_t barrier_pages, uint64_t limit_pages);
  // numproc enforced by ubcd (tasks; the container has no pids cgroup).
  // Unlimited: every task creation is let through at once.
  void SetTaskLimits(uint64_t barrier, uint64_t limit);
  void RestoreTasks(uint64_t maxheld, uint64_t failcnt);
  // maxheld and failcnt kept across a supervisor restart.
  void Restore(uint64_t maxheld_pages, uint64_t failcnt);
  void RestoreShm(uint64_t maxheld_pages, uint64_t failcnt);
  void RestoreLocked(uint64_t maxheld_pages, uint64_t failcnt);
  // The container's last task is gone: everything it held is released;
  // maxheld and failcnt stay for the record, and `members` lets go of what it
  // kept open.
  void Retire(MemberReader& members);
  const RuleProfile& profile() const { return *profile_; }
  // Fixed at construction: readable without the mutex.
  uint64_t fast_path_headroom_pages() const { return tuning_.fast_path_headroom_pages; }

 private:
  // What one decision has worked out so far about the call's charge.
  struct Planning {
    ChargeContext context;
    bool image_unknown = false;       // the new image after an exec could not be read
    int fork_tgid = -1;               // fork: the caller's process
    int brk_tgid = -1;                // brk: the process whose break moves
    bool brk_from_cache = false;      // brk: planned from a remembered break
    bool brk_growth_pending = false;  // ... which an admitted growth may have moved up
    uint64_t threshold_pages = 0;     // the estimate decides at or below this
  };

  // Thread-group id of a calling thread (-1 when it is gone); a /proc read the
  // first time for a thread that is not a process's main thread.
  int TgidOfLocked(int tid, MemberReader& members);
  // The same without reading /proc: false for a thread not mapped yet.
  bool KnownTgidLocked(int tid, int* tgid) const;
  void ForgetImageLocked(int tid);
  Status RefreshLocked(MemberReader& members);

  // The steps of a decision, in order.
  void DecideLocked(const TrappedCall& call, TargetReader& target, MemberReader& members,
                    Decision& d);
  // The first call after an exec: the new image joins the estimate.
  void NoteNewImageLocked(const TrappedCall& call, TargetReader& target, MemberReader& members,
                          Planning& p, Decision& d);
  // The exact check of an exec'd image, for CheckImage and for the image's
  // first trapped call: held read (listed afresh once if the process is not
  // in the sample), a failcnt when over the limit.
  ImageCheck CheckImageLocked(int tgid, MemberReader& members);
  // brk: the break to plan from; false (and a note) when the caller vanished.
  bool PrepareBrkLocked(const TrappedCall& call, TargetReader& target, MemberReader& members,
                        Planning& p, Decision& d);
  // Admits on the estimate when the call fits well below the bound.
  // openvz: a shared anonymous mapping privvmpages admitted is checked
  // against shmpages too; false when that refused it (or could not decide).
  bool ChargeShmpagesLocked(const TrappedCall& call, MemberReader& members, Decision& d);
  void DecideShmgetLocked(const TrappedCall& call, MemberReader& members, Decision& d);
  // mlock, mlock2, mlockall, munlockall, shmctl(SHM_LOCK): lockedpages only.
  void DecideLockingCallLocked(const TrappedCall& call, TargetReader& target, MemberReader& members,
                               Decision& d);
  // A mapping locked as it is made (MAP_LOCKED, MCL_FUTURE, the growth of a
  // locked mapping): charged to lockedpages before privvmpages decides. False
  // when lockedpages refused it (or could not decide): `d` is the answer.
  bool ChargeLockedMappingLocked(const TrappedCall& call, TargetReader& target,
                                 MemberReader& members, const Planning& p, Decision& d);
  // Pages of [addr, addr + length) the caller has locked already (0 when it
  // locks nothing; `unknown` when that cannot be read).
  uint64_t CallerLockedPagesLocked(TargetReader& target, uint64_t addr, uint64_t length_bytes,
                                   bool* unknown);
  bool TryEstimateLocked(const TrappedCall& call, MemberReader& members, Planning& p, Decision& d);
  // Reads the exact held value, resolves what the plan left open, and admits
  // or refuses.
  void DecideExactLocked(const TrappedCall& call, TargetReader& target, MemberReader& members,
                         Planning& p, Decision& d);
  void AdmitLocked(const TrappedCall& call, MemberReader& members, const Planning& p, uint64_t held,
                   Decision& d);
  void RememberBrkLocked(const Planning& p, uint64_t brk);
  bool CreditIsSafeLocked(const TrappedCall& call, TargetReader& target);
  // brk: reads the kernel's break and plans the call again from it. False
  // when the decision is made (the caller vanished, or it is a shrink now).
  bool ReplanBrkFromKernelLocked(TargetReader& target, Planning& p, Decision& d);
  Result<uint64_t> CurrentBrkLocked(TargetReader& target);
  AccountingSnapshot SnapshotLocked() const;
  void PublishLocked() { published_.Publish(SnapshotLocked()); }

  mutable std::mutex mu_;
  const RuleProfile* profile_;
  int killed_image_tgid_ = -1;  // the last image its first call found over the limit
  const Tuning tuning_;
  Beancounter counter_;
  ShmCounter shm_;        // unlimited until SetShmLimits
  LockedCounter locked_;  // unlimited until SetLockedLimits
  TaskCounter tasks_;     // unlimited until SetTaskLimits
  uint64_t processes_ = 0;
  MembersSample sample_;  // scratch of RefreshLocked, kept for its capacity
  uint64_t pruned_generation_ = ~uint64_t{0};
  std::vector<int> forgotten_tids_;  // scratch of RefreshLocked
  int64_t exact_at_ms_ = 0;
  uint64_t exact_epoch_ = 0;  // exact reads so far: which charges the estimate still holds
  // mremap calls let through and perhaps still in flight, at most one per
  // thread: while one is, a MAP_FIXED of another thread takes no credit for
  // what it replaces (the mremap may move it away first), and the kernel's
  // figure may count the moved range twice (below). Until the thread's next
  // call, or /proc shows it done at an exact read. A flat vector: few
  // entries, and its capacity is kept, so the notification path allocates
  // nothing for it after the first mremaps.
  struct Mover {
    TrappedCall call;
    // What statm may count twice while the call runs: a move maps the new
    // place before it unmaps the old one (the kernel's move_vma), so for that
    // instant data_vm holds both. 0 for a call that resizes in place.
    uint64_t moved_pages = 0;
  };
  std::vector<Mover> movers_;
  // The kernel's figure at the last exact read less what movers in flight
  // may have counted twice: memory the container certainly held. held is
  // shown, maxheld recorded and an exec's image judged on this, never on a
  // transient double count.
  uint64_t certain_pages_ = 0;
  bool retired_ = false;  // Refresh() reads nothing any more
  ReservationLedger ledger_;
  ProcessImageCache images_;
  PublishedValue<AccountingSnapshot> published_;  // written under mu_
};

}  // namespace ubc
