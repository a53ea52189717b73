#include "supervisor/process_pin.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include "core/proc_text.h"
#include "supervisor/proc_read.h"

namespace ubc {
namespace {

int PidfdOpen(int pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

}  // namespace

Result<uint64_t> ProcessPin::ReadStartBrk() const {
  Result<std::string> text =
      ReadProcFile("/proc/" + std::to_string(tgid_) + "/stat", ProcRecords::kOne);
  if (!text.ok()) return text.status();
  Result<ImageFacts> image = ParseStatImage(*text);
  if (!image.ok()) return image.status();
  // Signal 0 through the pidfd: the process read above was the pinned one.
  if (PidfdSendSignal(pidfd_.get(), 0) != 0) {
    return Status::FromErrno(errno, "pid " + std::to_string(tgid_));
  }
  return image->start_brk;
}

Result<std::unique_ptr<ProcessPin>> ProcessPin::Pin(int tgid) {
  UniqueFd pidfd(PidfdOpen(tgid));
  if (!pidfd) return Status::FromErrno(errno, "pidfd_open of pid " + std::to_string(tgid));
  std::unique_ptr<ProcessPin> pin(new ProcessPin(tgid, std::move(pidfd), 0));
  // Read before the liveness check of ReadStartBrk(), so it is this process's.
  if (Result<std::string> comm =
          ReadProcFile("/proc/" + std::to_string(tgid) + "/comm", ProcRecords::kOne);
      comm.ok() && !comm->empty()) {
    pin->comm_ = comm->substr(0, comm->find('\n'));
  }
  Result<uint64_t> brk = pin->ReadStartBrk();
  if (!brk.ok()) return brk.status();
  pin->start_brk_ = *brk;
  return pin;
}

bool ProcessPin::StillThatImage() const {
  Result<uint64_t> brk = ReadStartBrk();
  return brk.ok() && *brk == start_brk_;
}

Status ProcessPin::Kill() const {
  if (PidfdSendSignal(pidfd_.get(), SIGKILL) != 0) {
    return Status::FromErrno(errno, "killing pid " + std::to_string(tgid_));
  }
  return Status::Ok();
}

}  // namespace ubc
