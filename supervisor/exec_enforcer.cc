#include "supervisor/exec_enforcer.h"

#include <signal.h>

#include <chrono>
#include <string>
#include <utility>

#include "supervisor/log.h"

namespace ubc {

Result<std::unique_ptr<PinnedImage>> PinProcess(int tgid) {
  Result<std::unique_ptr<ProcessPin>> pin = ProcessPin::Pin(tgid);
  if (!pin.ok()) return pin.status();
  return std::unique_ptr<PinnedImage>(std::move(pin).value());
}

void RecordExecKill(Container& c, int tgid, std::string comm,
                    const ContainerAccounting::ImageCheck& check, const Status& killed) {
  RefusalEvent e;
  e.time_unix_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  e.pid = tgid;
  e.comm = std::move(comm);
  e.syscall = "execve";
  e.requested_pages = check.image_pages;
  e.held_pages = check.held_pages;
  e.checked = ChargeCheck::kLimit;
  e.bound_pages = check.limit_pages;
  e.signal_number = killed.ok() ? SIGKILL : 0;
  const std::string line =
      "container=" + c.id + " pid=" + std::to_string(e.pid) + " comm=" + e.comm +
      " syscall=execve image=" + std::to_string(e.requested_pages) +
      " held=" + std::to_string(e.held_pages) + " limit=" + std::to_string(e.bound_pages);
  if (killed.ok()) {
    Log(LogLevel::kWarning, "refused " + line +
                                " killed=SIGKILL: the exec'd image took the container over its "
                                "limit and was killed");
  } else {
    Log(LogLevel::kWarning, "refused " + line +
                                ": the exec'd image took the container over its limit, not "
                                "killed: " +
                                killed.message());
  }
  c.events.Add(std::move(e));
}

ExecEnforcer::ExecEnforcer(ContainerRegistry& registry, ProcessView& view, Pinner pin,
                           OnKill on_kill)
    : registry_(registry), view_(view), pin_(std::move(pin)), on_kill_(std::move(on_kill)) {}

void ExecEnforcer::OnExec(const ExecEvent& event) {
  // Most execs on a host are of no container: one /proc read finds that.
  std::shared_ptr<Container> c = [&] {
    std::unique_ptr<ProcessLocation> where = view_.Locate(event.tgid);
    return registry_.FindByProcess(*where);
  }();
  if (!c) return;
  // The pid may have been reused between the event and the lookup: pinned
  // now, the process is looked at again, and what is read of it from here on
  // is checked to be the pinned one's.
  Result<std::unique_ptr<PinnedImage>> pin = pin_(event.tgid);
  if (!pin.ok()) return;  // exited already: its pages went with it
  if (std::unique_ptr<ProcessLocation> where = view_.Locate(event.tgid);
      !c->members->Contains(*where) || !(*pin)->StillThatImage()) {
    return;
  }
  checks_.fetch_add(1, std::memory_order_relaxed);
  const ContainerAccounting::ImageCheck check = c->accounting->CheckImage(event.tgid, *c->members);
  if (!check.over_limit) return;

  // Only the image that was checked is killed: a process that exec'd again
  // meanwhile has its own event coming.
  Status killed = (*pin)->StillThatImage()
                      ? (*pin)->Kill()
                      : Status::Error("it runs another image now, whose exec is checked itself");
  if (killed.ok()) kills_.fetch_add(1, std::memory_order_relaxed);
  RecordExecKill(*c, event.tgid, (*pin)->comm(), check, killed);
  if (on_kill_) on_kill_(*c);
}

void ExecEnforcer::OnEventsLost() {
  // Which process exec'd is not known any more: every container's held is
  // read exactly once, so an unseen image is at least counted now (its
  // process's next trapped call is decided on it).
  for (const std::shared_ptr<Container>& c : registry_.All()) {
    if (c->notify_fds.load() > 0) (void)c->accounting->Refresh(*c->members);
  }
}

}  // namespace ubc
