// ContainerAccounting (core/container_accounting.h): what an exec changes.
// The kernel maps a new image's data, bss and stack without a trapped call;
// these methods forget the old image at execve, add the new one at its first
// trapped call (and kill it there when it beats the exec watcher and does
// not fit), and give the watcher's exact check (docs/accounting.md, "exec").

#include <cerrno>

#include "core/container_accounting.h"

namespace ubc {

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
  images_.ExecStarted(tgid);
}

void ContainerAccounting::NoteNewImageLocked(const TrappedCall& call, TargetReader& target,
                                             MemberReader& members, Planning& p, Decision& d) {
  // The first call after an exec adds the new image (what the kernel mapped
  // unasked: data, bss, stack) to the estimate, bounded by its vsize: one
  // read of /proc/PID/stat, which also gives the new break. The old image's
  // pages stay in the estimate until the next exact read, so it errs high.
  // If the read fails the call is decided exactly.
  if (!images_.TakePendingExec(call.tid)) return;
  // The caller is now its process's main thread: its tid is the tgid.
  if (!ledger_.HasSpace(call.tid)) images_.SetTgid(call.tid, call.tid);
  Result<ImageFacts> image = target.Image();
  if (!image.ok()) {
    p.image_unknown = true;
    return;
  }
  // An exec check (CheckImage) may have counted the image exactly already.
  if (!images_.TakeImageCounted(call.tid)) {
    ledger_.AddToEstimate(image->vm_pages);
    // The exec watcher's check is asynchronous: the image's first trapped
    // call may come first. If the container may be over its limit with the
    // image, that call reads held exactly and, over the limit, the image is
    // killed here instead, the same verdict CheckImage gives (a refused first
    // brk would only make glibc fail its TLS set-up, exit 127).
    if (ledger_.Estimate() > counter_.values().limit_pages) {
      const ImageCheck check = CheckImageLocked(call.tid, members);
      if (check.over_limit) {
        killed_image_tgid_ = call.tid;
        d.kill_caller = true;
        d.refused = true;
        d.exact = true;
        d.action = Decision::Action::kFail;
        d.error_number = ENOMEM;
        d.plan.check = ChargeCheck::kLimit;
        d.plan.pages = check.image_pages;
        d.held_pages = check.held_pages;
        d.bound_pages = check.limit_pages;
        return;
      }
    }
  }
  const ProcessImageCache::BreakState* brk = images_.Break(call.tid);
  if (brk != nullptr && brk->low == ProcessImageCache::kBreakAtStart) {
    images_.SetBreak(call.tid, image->start_brk);
  }
}

ContainerAccounting::ImageCheck ContainerAccounting::CheckImage(int tgid, MemberReader& members) {
  ImageCheck r;
  std::lock_guard<std::mutex> lock(mu_);
  if (retired_) return r;
  if (killed_image_tgid_ == tgid) {
    // Its first trapped call found it over the limit and it was killed then
    // (NoteNewImageLocked): counted once.
    killed_image_tgid_ = -1;
    r.checked = true;
    r.member = true;
    return r;
  }
  r = CheckImageLocked(tgid, members);
  if (r.member) {
    // After an exec the process's only thread has tid == tgid.
    if (!ledger_.HasSpace(tgid)) images_.SetTgid(tgid, tgid);
    images_.ImageCounted(tgid);
  }
  PublishLocked();
  return r;
}

ContainerAccounting::ImageCheck ContainerAccounting::CheckImageLocked(int tgid,
                                                                      MemberReader& members) {
  ImageCheck r;
  Status s = RefreshLocked(members);
  if (s.ok() && sample_.DataPagesOf(tgid) == nullptr) {
    // Forked and exec'd before any exact read found it: list afresh once.
    members.ExpectNewProcess(-1);
    s = RefreshLocked(members);
  }
  if (!s.ok()) return r;
  r.checked = true;
  const uint64_t* image = sample_.DataPagesOf(tgid);
  r.member = image != nullptr;
  if (r.member) r.image_pages = *image;
  r.held_pages = certain_pages_;  // a kill cannot be taken back: no double count
  r.limit_pages = counter_.values().limit_pages;
  r.over_limit = r.member && r.held_pages > r.limit_pages;
  if (r.over_limit) counter_.RecordRefusal();
  return r;
}

}  // namespace ubc
