// ContainerAccounting: one container's privvmpages beancounter and the decision
// for each trapped memory syscall (docs/ubc-semantics.md §1-§5).
//
// Held is the kernel's truth (the sum of statm "data" over the container's
// distinct address spaces, read through MemberReader) plus reservations for
// calls this object admitted and that may not have completed yet. Between exact
// reads an estimate (last exact value + every charge admitted since) decides
// calls that are far below their bound without touching /proc; near a bound, or
// when the estimate is stale, the exact value is read and ranges are resolved
// through TargetReader. The kernel-facing readers are interfaces so the rules
// are unit-tested with fakes.
//
// Thread-safety: every public method locks an internal mutex; several notify-fd
// threads of one container may call Decide() concurrently and are serialised,
// which is what keeps concurrent threads of a container from racing past the
// barrier. Readers passed in are used only during the call.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/beancounter.h"
#include "core/memory_map.h"
#include "core/rule_profile.h"
#include "core/status.h"
#include "core/syscall_classifier.h"

namespace ubc {

inline constexpr uint32_t kAuditArchX86_64 = 0xC000003E;

// One seccomp notification, as the kernel captured it.
struct TrappedCall {
  int tid = 0;  // notif.pid: a thread id in ubcd's pid namespace
  uint32_t arch = kAuditArchX86_64;
  int nr = -1;
  std::array<uint64_t, 6> args{};
};

// What /proc/PID/stat says about the caller's image.
struct ImageFacts {
  uint64_t vm_pages = 0;   // vsize: every mapping, so an upper bound of statm data
  uint64_t start_brk = 0;  // mm->start_brk: the break while there is no heap
};

// Facts about the thread that made the call. Implementations check that the
// notification is still valid after opening any /proc file of the target, so a
// recycled pid is never read.
class TargetReader {
 public:
  virtual ~TargetReader() = default;
  // statm "data" of the caller's address space, in pages.
  virtual Result<uint64_t> DataPages() = 0;
  virtual Result<std::vector<MapEntry>> Maps() = 0;
  // /proc/PID/stat fields 23 (vsize) and 47 (start_brk).
  virtual Result<ImageFacts> Image() = 0;
};

// Facts about the whole container.
struct MembersSample {
  uint64_t data_pages = 0;  // sum over distinct address spaces
  uint64_t processes = 0;
  // statm data of each member process, sorted by tgid (processes sharing an
  // address space each show the shared value). A flat vector, refilled in
  // place on every exact decision: its capacity is kept.
  std::vector<std::pair<int, uint64_t>> data_pages_by_tgid;
  // Advanced by the reader whenever the member set may have changed (a
  // listing, an exit); what is remembered of gone processes is pruned then.
  uint64_t generation = 0;
  const uint64_t* DataPagesOf(int tgid) const;
};

// Where a thread is relative to a call it was admitted for.
enum class CallProgress {
  kInside,     // blocked inside that very call: not counted by the kernel yet
  kDone,       // gone, or blocked in another call: the kernel's counters have it
  kUnknown,    // on a CPU (/proc shows "running"): could be either
};

class MemberReader {
 public:
  virtual ~MemberReader() = default;
  // Fills *out (reusing its storage: exact decisions allocate nothing).
  virtual Status Sample(MembersSample* out) = 0;
  virtual CallProgress Progress(int tid, int nr, const std::array<uint64_t, 6>& args) = 0;
  // Thread-group id of a thread, or -1 when it is gone.
  virtual int ThreadGroupOf(int tid) = 0;
  // A new process may have appeared (a fork was admitted or completed): the
  // next Sample() must include it. `forker_tid` is the thread that forked,
  // whose children the new process is among; -1 when it may be elsewhere
  // (CLONE_PARENT makes it the forker's sibling): then the members are
  // listed afresh.
  virtual void ExpectNewProcess(int forker_tid) = 0;
  // True only when it is certain that thread `tid` has no child left: every
  // process it forked has exited and been reaped (its pages are released).
  // False when it has one, or when that cannot be told cheaply and surely.
  virtual bool ChildrenReaped(int tid) = 0;
  // The container is gone: drop anything kept open for it.
  virtual void ReleaseAll() {}
};

struct Decision {
  enum class Action {
    kContinue,  // let the kernel run the call
    kFail,      // return -1 with errno `error_number`
    kReturn,    // return `return_value` without running the call (brk refusal)
  };
  Action action = Action::kContinue;
  int error_number = 0;
  uint64_t return_value = 0;
  ClassifiedCall call;
  ChargePlan plan;
  bool refused = false;
  bool exact = false;         // decided on an exact held value
  uint64_t held_pages = 0;    // held the decision was taken against
  uint64_t bound_pages = 0;   // barrier or limit checked
  std::string note;           // why, for logs: "foreign architecture", read errors
};

struct AccountingSnapshot {
  BeancounterValues privvmpages;
  uint64_t processes = 0;
  uint64_t reservations = 0;
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

  // Reads the exact held value now (for status) and returns the counters.
  AccountingSnapshot Refresh(MemberReader& members);
  // Counters as last known, without reading anything.
  AccountingSnapshot Peek() const;

  void SetLimits(uint64_t barrier_pages, uint64_t limit_pages);
  // When a call cannot be decided (the container's processes cannot be
  // read): false lets it run (fail open, the default), true refuses it with
  // ENOMEM (fail closed). Not counted in failcnt either way.
  void SetFailClosed(bool fail_closed);
  // maxheld and failcnt kept across a supervisor restart.
  void Restore(uint64_t maxheld_pages, uint64_t failcnt);
  // The container's last task is gone: everything it held is released;
  // maxheld and failcnt stay for the record, and `members` lets go of what it
  // kept open.
  void Retire(MemberReader& members);
  const RuleProfile& profile() const { return *profile_; }

 private:
  // Entries are kept per thread and reused (`active` false when the thread
  // has nothing outstanding): the notification path allocates nothing for a
  // thread it has seen before.
  struct Reservation {
    bool active;
    bool idle_at_last_read;  // inactive at the previous exact read too: pruned next
    int nr;
    std::array<uint64_t, 6> args;
    uint64_t pages;
    int tgid;
    // The call grows the caller's own statm data (mmap, brk, mremap,
    // mprotect); fork and shared anonymous charges show up elsewhere.
    bool grows_caller_data;
    // A fork: the thread whose children the new process is among (-1 for
    // CLONE_PARENT), told to the reader when the call completes. 0: no fork.
    int forker_tid;
  };
  // What is known about one address space (by tgid) between exact reads: its
  // statm data when it last had no call outstanding, and the pages admitted
  // for it since. While calls are outstanding it holds at least
  // base + admitted, whatever order they complete in.
  struct AddressSpace {
    bool has_base = false;
    uint64_t base_data_pages = 0;
    uint64_t admitted_pages = 0;
  };

  uint64_t EstimateLocked() const;
  void ReserveLocked(const TrappedCall& call, const ClassifiedCall& classified,
                     const ChargePlan& plan, MemberReader& members);
  // Thread-group id of a calling thread (-1 when it is gone); a /proc read the
  // first time for a thread that is not a process's main thread.
  int TgidOfLocked(int tid, MemberReader& members);
  // The completed call of a reservation may have made a process.
  void ReleaseLocked(Reservation& r, MemberReader& members);
  // Takes out of the estimate the charges of completed forks whose forker
  // has no child left; true when anything was taken out.
  bool DropReapedForksLocked(MemberReader& members);
  // The same without reading /proc: false for a thread not mapped yet. (Not
  // an optional<int>: GCC returns one through memory, and reading it back
  // whole stalls on store forwarding on every decision.)
  bool KnownTgidLocked(int tid, int* tgid) const;
  void ForgetImageLocked(int tid);
  Status RefreshLocked(MemberReader& members);
  void PruneGoneLocked();
  Result<uint64_t> CurrentBrkLocked(TargetReader& target);
  void DecideLocked(const TrappedCall& call, TargetReader& target, MemberReader& members,
                    Decision& d);

  mutable std::mutex mu_;
  const RuleProfile* profile_;
  Tuning tuning_;
  bool fail_closed_ = false;
  Beancounter counter_;
  bool have_exact_ = false;
  uint64_t exact_held_pages_ = 0;            // held at the last exact read
  uint64_t admitted_since_exact_pages_ = 0;  // charges admitted since then
  uint32_t fast_decisions_ = 0;
  uint64_t processes_ = 0;
  MembersSample sample_;  // scratch of RefreshLocked, kept for its capacity
  uint64_t pruned_generation_ = ~uint64_t{0};
  std::map<int, Reservation> reservations_;  // by thread id
  std::map<int, AddressSpace> spaces_;       // by tgid, as of the last exact read
  std::map<int, int> tgid_by_tid_;           // cache; pruned with dead reservations
  // The break each process's heap was last moved to (by tgid), so that a brk
  // away from the bound is planned without reading /proc/PID/maps. Per
  // process, not per thread: any thread may move the one break. An exec
  // resets the entry to kBreakAtStart (the new image's break is its start_brk).
  static constexpr uint64_t kBreakAtStart = ~uint64_t{0};
  std::map<int, uint64_t> brk_by_tgid_;
  // Processes whose image an exec is replacing: their next trapped call
  // adds the new image's size to the estimate and sets its break.
  std::set<int> exec_pending_;
  // Fork charges in the estimate since the last exact read. The charge
  // stands for the child; once the fork has completed and its forker has no
  // child left, the child is gone and the charge can leave the estimate.
  // Without this, a process forking and waiting for children (a shell, a
  // pre-fork server restarting workers) that is over a third of the bound
  // would have each fork decided exactly because of the previous, dead child.
  struct ForkCharge {
    int forker_tid;
    uint64_t pages;
    bool completed;
  };
  std::vector<ForkCharge> forks_since_exact_;
};

}  // namespace ubc
