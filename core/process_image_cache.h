// ProcessImageCache: what a container's accounting remembers of each process
// image between exact reads, so that most calls are planned without /proc.
//
//  - tgid by tid, for threads that are not a process's main thread (looked up
//    once in /proc, remembered while they keep calling);
//  - a lower bound of each process's break (by tgid: any thread may move the
//    one break), so that a brk away from the bound is planned without reading
//    /proc/PID/maps: the break last read, or a shrink's target. A growth ubcd
//    admitted is not taken for granted (the kernel may refuse it): it only
//    marks the break as possibly higher ("growth pending") until the next
//    read. An exec resets the break to kBreakAtStart;
//  - the processes whose image an exec is replacing: their next trapped call
//    adds the new image's size to the estimate and sets its break.
// Entries of processes the member reader no longer lists are pruned when the
// member set changes (PruneGone). Not thread-safe: the owning
// ContainerAccounting serialises every call.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <set>

#include "core/accounting_readers.h"

namespace ubc {

class ProcessImageCache {
 public:
  // The break right after an exec: the new image's start_brk, not read yet.
  static constexpr uint64_t kBreakAtStart = ~uint64_t{0};

  // ---- Threads
  // False for a thread not mapped yet. (Not an optional<int>: GCC returns one
  // through memory, and reading it back whole stalls on store forwarding on
  // every decision.)
  bool TgidOf(int tid, int* tgid) const {
    auto cached = tgid_by_tid_.find(tid);
    if (cached == tgid_by_tid_.end()) return false;
    *tgid = cached->second;
    return true;
  }
  void SetTgid(int tid, int tgid) { tgid_by_tid_[tid] = tgid; }
  void ForgetThread(int tid) { tgid_by_tid_.erase(tid); }

  // ---- Breaks
  // What is known of a process's break. `low` is never above the kernel's:
  // the break last read, or a shrink's target. `high` is the highest break
  // an admitted growth asked for since; the kernel may have refused it. Each
  // growth's charge stays in the estimate until the next exact read (epoch),
  // so until then a growth is charged from `high`; after it, from `low`.
  struct BreakState {
    uint64_t low = 0;
    uint64_t high = 0;
    uint64_t epoch = 0;  // the exact read `high` was raised after
  };
  // Null when nothing is remembered; low == high == kBreakAtStart right
  // after an exec.
  const BreakState* Break(int tgid) const {
    auto it = brk_by_tgid_.find(tgid);
    return it == brk_by_tgid_.end() ? nullptr : &it->second;
  }
  // A break read from the kernel (or a lower bound of it): nothing pending.
  void SetBreak(int tgid, uint64_t brk) { brk_by_tgid_[tgid] = BreakState{brk, brk, 0}; }
  // A growth to `brk` was admitted after exact read `epoch`; the kernel may
  // still refuse it.
  void NoteBreakGrowthAdmitted(int tgid, uint64_t brk, uint64_t epoch) {
    auto it = brk_by_tgid_.find(tgid);
    if (it == brk_by_tgid_.end()) return;
    BreakState& b = it->second;
    b.high = std::max(b.epoch == epoch ? b.high : b.low, brk);
    b.epoch = epoch;
  }

  // ---- Execs
  // `tgid`'s image is being replaced: what is remembered of it is stale.
  void ExecStarted(int tgid);
  // `tgid` has exec'd and an exact read has counted its new image: its next
  // trapped call still reads the image for its break, but adds nothing to
  // the estimate (TakeImageCounted). Nothing changes when no exec is pending
  // (that call came first and has noted the image).
  void ImageCounted(int tgid) {
    if (exec_pending_.count(tgid) != 0) image_counted_.insert(tgid);
  }
  // True (once) when an exact read has counted `tgid`'s new image.
  bool TakeImageCounted(int tgid) {
    return !image_counted_.empty() && image_counted_.erase(tgid) != 0;
  }
  // True (once) when `tgid` had an exec pending: its new image is to be read.
  bool TakePendingExec(int tgid) {
    return !exec_pending_.empty() && exec_pending_.erase(tgid) != 0;
  }

  // Forgets processes `sample` does not list; a thread's tgid is kept while
  // `keep_thread(tid)` says its id is still of interest.
  void PruneGone(const MembersSample& sample, const std::function<bool(int tid)>& keep_thread);
  void Clear();

 private:
  std::map<int, int> tgid_by_tid_;
  std::map<int, BreakState> brk_by_tgid_;
  std::set<int> exec_pending_;
  std::set<int> image_counted_;  // a subset of exec_pending_
};

}  // namespace ubc
