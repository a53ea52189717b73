// ProcTarget: the /proc TargetReader (core/accounting_readers.h) of the
// thread that made one notification.
//
// Every /proc/TID file it opens is checked with SECCOMP_IOCTL_NOTIF_ID_VALID
// after opening and before reading, so a recycled pid is never read: had the
// thread died and its pid been reused, the notification would be gone. It
// lives for one decision and borrows the notifier, which must outlive it.
// Parsing is core/proc_text.h and core/memory_map.h. Used by one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/accounting_readers.h"
#include "supervisor/seccomp_notifier.h"

namespace ubc {

class ProcTarget : public TargetReader {
 public:
  ProcTarget(const SeccompNotifier& notifier, uint64_t notification_id, int tid);
  Result<uint64_t> DataPages() override;
  Result<std::vector<MapEntry>> Maps() override;
  Result<ImageFacts> Image() override;
  // The thread's command name, for refusal logs ("?" when unreadable).
  std::string Comm();

 private:
  Result<std::string> ReadVerified(const char* file);
  const SeccompNotifier& notifier_;
  uint64_t id_;
  int tid_;
};

}  // namespace ubc
