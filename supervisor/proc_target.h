// ProcTarget: the /proc TargetReader (core/accounting_readers.h) of the
// thread that made one notification.
//
// Every /proc/TID file it opens is checked with SECCOMP_IOCTL_NOTIF_ID_VALID
// after opening and before reading, so a recycled pid is never read: had the
// thread died and its pid been reused, the notification would be gone. One is
// kept per notify thread and pointed at each notification with Reset(); it
// borrows the notifier, which must outlive it.
// Parsing is core/proc_text.h and core/memory_map.h. Used by one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "supervisor/notifier.h"
#include "supervisor/process_view.h"

namespace ubc {

class ProcTarget : public CallTarget {
 public:
  explicit ProcTarget(const Notifier& notifier) : notifier_(notifier) {}
  ProcTarget(const Notifier& notifier, uint64_t notification_id, int tid);
  void Reset(uint64_t notification_id, int tid) override {
    id_ = notification_id;
    tid_ = tid;
  }
  Result<uint64_t> DataPages() override;
  Result<std::vector<MapEntry>> Maps() override;
  Result<ImageFacts> Image() override;
  // VmLck of /proc/TID/status (kB) in pages, and smaps' locked mappings.
  Result<uint64_t> LockedPages() override;
  Result<std::vector<AddressRange>> LockedRanges() override;
  std::string Comm() override;

 private:
  Result<std::string> ReadVerified(const char* file);
  const Notifier& notifier_;
  uint64_t id_ = 0;
  int tid_ = -1;
};

}  // namespace ubc
