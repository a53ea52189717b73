#include "supervisor/proc_target.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "core/proc_text.h"
#include "core/unique_fd.h"
#include "core/units.h"
#include "supervisor/proc_read.h"

namespace ubc {

ProcTarget::ProcTarget(const Notifier& notifier, uint64_t notification_id, int tid)
    : notifier_(notifier), id_(notification_id), tid_(tid) {}

Result<std::string> ProcTarget::ReadVerified(const char* file) {
  std::string path = "/proc/" + std::to_string(tid_) + "/" + file;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Status::Error(path + ": " + std::strerror(errno));
  // Only now is it certain that `fd` belongs to the thread that is waiting:
  // had it died and its pid been reused, the notification would be gone.
  if (!notifier_.IdValid(id_)) return Status::Error(path + ": notification no longer valid");
  const bool many = std::strcmp(file, "maps") == 0 || std::strcmp(file, "smaps") == 0;
  return ReadProcFd(fd.get(), many ? ProcRecords::kMany : ProcRecords::kOne);
}

Result<uint64_t> ProcTarget::DataPages() {
  Result<std::string> text = ReadVerified("statm");
  if (!text.ok()) return text.status();
  const std::optional<Statm> s = ParseStatm(*text);
  if (!s) return Status::Error("unparsable statm");
  return StatmDataPages(*s);
}

Result<std::vector<MapEntry>> ProcTarget::Maps() {
  Result<std::string> text = ReadVerified("maps");
  if (!text.ok()) return text.status();
  return ParseProcMaps(*text);
}

Result<ImageFacts> ProcTarget::Image() {
  Result<std::string> text = ReadVerified("stat");
  if (!text.ok()) return text.status();
  return ParseStatImage(*text);
}

Result<uint64_t> ProcTarget::LockedPages() {
  Result<std::string> text = ReadVerified("status");
  if (!text.ok()) return text.status();
  const std::optional<uint64_t> kb = StatusField(*text, "VmLck");
  // A kernel thread or a zombie has no VmLck line: nothing is locked.
  if (!kb) return uint64_t{0};
  return *kb / (kPageBytes / 1024);
}

Result<std::vector<AddressRange>> ProcTarget::LockedRanges() {
  Result<std::string> text = ReadVerified("smaps");
  if (!text.ok()) return text.status();
  return ParseSmapsLockedRanges(*text);
}

std::string ProcTarget::Comm() {
  Result<std::string> text = ReadVerified("comm");
  if (!text.ok() || text->empty()) return "?";
  std::string c = *text;
  if (!c.empty() && c.back() == '\n') c.pop_back();
  return c;
}

}  // namespace ubc
