#include "supervisor/resource_gauge.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <set>

#include "core/monotonic_clock.h"
#include "core/proc_text.h"
#include "core/unique_fd.h"
#include "core/units.h"
#include "supervisor/membership.h"
#include "supervisor/proc_read.h"

namespace ubc {
namespace {

std::optional<std::string> ReadText(const std::string& path) {
  Result<std::string> text = ReadProcFile(path, ProcRecords::kMany);
  if (!text.ok()) return std::nullopt;
  return std::move(text).value();
}

std::optional<uint64_t> ReadNumber(const std::string& path) {
  std::optional<std::string> text = ReadText(path);
  return text ? SingleValue(*text) : std::nullopt;
}

// Entries of a /proc/PID/fd directory; nullopt when it cannot be listed.
std::optional<uint64_t> CountFds(int pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/fd";
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(path.c_str()), ::closedir);
  if (!dir) return std::nullopt;
  uint64_t n = 0;
  while (const dirent* e = ::readdir(dir.get())) {
    if (e->d_name[0] != '.') ++n;
  }
  return n;
}

// Kernel memory of a cgroup2 memory.stat in bytes: "kernel" where the kernel
// sums it (5.18+), else the parts it is made of.
std::optional<uint64_t> KernelBytes(std::string_view stat) {
  if (std::optional<uint64_t> kernel = KeyedValue(stat, "kernel")) return kernel;
  std::optional<uint64_t> sum;
  for (std::string_view key :
       {"kernel_stack", "pagetables", "sec_pagetables", "percpu", "sock", "slab", "vmalloc"}) {
    if (std::optional<uint64_t> v = KeyedValue(stat, key)) sum = sum.value_or(0) + *v;
  }
  return sum;
}

// Folds a fresh held value into a row: maxheld follows it upwards.
void Observe(std::optional<BeancounterValues>& row, std::optional<uint64_t> held) {
  if (!held) return;  // unreadable now: the last value stands
  if (!row) row = BeancounterValues{0, 0, kUnlimitedPages, kUnlimitedPages, 0};
  row->held_pages = *held;
  row->maxheld_pages = std::max(row->maxheld_pages, *held);
}

}  // namespace

GaugeSources FindGaugeSources(int init_pid, int runtime_pid) {
  GaugeSources s;
  // cgroup2 first (a controller enabled there shows its files), then v1.
  s.memory_dir = OwnCgroupDir(init_pid, runtime_pid, "memory", "memory.current");
  s.memory_v2 = !s.memory_dir.empty();
  if (s.memory_dir.empty()) {
    s.memory_dir = OwnCgroupDir(init_pid, runtime_pid, "memory", "memory.usage_in_bytes");
  }
  s.pids_dir = OwnCgroupDir(init_pid, runtime_pid, "pids", "pids.current");
  s.procs_dir = !s.pids_dir.empty() ? s.pids_dir : s.memory_dir;
  if (s.procs_dir.empty()) {
    const Membership m = DetermineMembership(init_pid, runtime_pid);
    if (m.kind == Membership::Kind::kCgroup) s.procs_dir = m.cgroup_dir;
    if (m.kind == Membership::Kind::kPidNamespace) {
      s.by_pid_namespace = true;
      s.pidns_dev = m.pidns_dev;
      s.pidns_ino = m.pidns_ino;
    }
  }
  return s;
}

std::vector<int> ResourceGauge::ListProcesses() const {
  std::set<int> pids;
  if (!sources_.procs_dir.empty()) {
    if (Result<std::string> text =
            ReadProcFile(sources_.procs_dir + "/cgroup.procs", ProcRecords::kPids);
        text.ok()) {
      AddPids(*text, &pids);
    }
  } else if (sources_.by_pid_namespace) {
    std::unique_ptr<DIR, int (*)(DIR*)> proc(::opendir("/proc"), ::closedir);
    while (proc) {
      const dirent* e = ::readdir(proc.get());
      if (e == nullptr) break;
      const std::optional<int> pid = ProcEntryPid(e->d_name);
      if (!pid) continue;
      dev_t dev = 0;
      ino_t ino = 0;
      if (PidNamespaceOf("/proc/" + std::to_string(*pid) + "/ns/pid", &dev, &ino) &&
          dev == sources_.pidns_dev && ino == sources_.pidns_ino) {
        pids.insert(*pid);
      }
    }
  }
  return {pids.begin(), pids.end()};
}

void ResourceGauge::SampleLocked() {
  const bool listable = !sources_.procs_dir.empty() || sources_.by_pid_namespace;
  const std::vector<int> pids = listable ? ListProcesses() : std::vector<int>{};
  std::optional<uint64_t> files, threads, resident_pages;
  if (listable) {
    files = threads = resident_pages = 0;
    for (int pid : pids) {
      const std::string base = "/proc/" + std::to_string(pid);
      // A process that exits between the listing and these reads has no
      // files, tasks or pages left: it is simply not counted.
      if (std::optional<uint64_t> n = CountFds(pid)) *files += *n;
      if (std::optional<std::string> stat = ReadText(base + "/stat")) {
        if (Result<ImageFacts> facts = ParseStatImage(*stat); facts.ok())
          *threads += facts->threads;
      }
      if (std::optional<std::string> statm = ReadText(base + "/statm")) {
        if (std::optional<Statm> s = ParseStatm(*statm)) *resident_pages += (*s)[1];
      }
    }
  }

  std::optional<uint64_t> tasks = threads;
  uint64_t pids_failcnt = 0;
  if (!sources_.pids_dir.empty()) {
    tasks = ReadNumber(sources_.pids_dir + "/pids.current");
    if (std::optional<std::string> events = ReadText(sources_.pids_dir + "/pids.events")) {
      pids_failcnt = KeyedValue(*events, "max").value_or(0);
    }
  }
  Observe(last_.numproc, tasks);
  // The bounds are shown only where the kernel enforces them: a limit
  // nothing enforces must not read as one.
  if (!sources_.pids_dir.empty()) {
    if (!last_.numproc)
      last_.numproc = BeancounterValues{0, 0, kUnlimitedPages, kUnlimitedPages, 0};
    last_.numproc->barrier_pages = numproc_limit_.barrier_pages;
    last_.numproc->limit_pages = numproc_limit_.limit_pages;
    last_.numproc->maxheld_pages = std::max(last_.numproc->maxheld_pages, restored_maxheld_);
    // pids.events counts since the cgroup was made, which a restart of ubcd
    // does not change: the larger of the two is the container's count.
    last_.numproc->failcnt = std::max(pids_failcnt, restored_failcnt_);
  }

  std::optional<uint64_t> physical = resident_pages, kernel;
  if (!sources_.memory_dir.empty()) {
    const std::string& dir = sources_.memory_dir;
    if (sources_.memory_v2) {
      const std::optional<uint64_t> bytes = ReadNumber(dir + "/memory.current");
      physical = bytes ? std::optional<uint64_t>(PagesForBytes(*bytes)) : std::nullopt;
      if (std::optional<std::string> stat = ReadText(dir + "/memory.stat"))
        kernel = KernelBytes(*stat);
    } else {
      const std::optional<uint64_t> bytes = ReadNumber(dir + "/memory.usage_in_bytes");
      physical = bytes ? std::optional<uint64_t>(PagesForBytes(*bytes)) : std::nullopt;
      kernel = ReadNumber(dir + "/memory.kmem.usage_in_bytes");
    }
  }
  Observe(last_.physpages, physical);
  Observe(last_.kmemsize, kernel);
  Observe(last_.numfile, files);
}

MeasuredResources ResourceGauge::Read() {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = CoarseMonotonicMs();
  if (!sampled_ || now - sampled_at_ms_ >= sample_every_ms_) {
    SampleLocked();
    sampled_ = true;
    sampled_at_ms_ = now;
  }
  return last_;
}

MeasuredResources ResourceGauge::Last() {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}

Status ResourceGauge::SetNumprocLimit(const BarrierLimit& tasks) {
  std::lock_guard<std::mutex> lock(mu_);
  numproc_limit_ = tasks;
  sampled_ = false;  // the next report shows the new bounds
  if (sources_.pids_dir.empty()) return Status::Ok();
  const std::string path = sources_.pids_dir + "/pids.max";
  const std::string text =
      tasks.limit_pages == kUnlimitedPages ? "max" : std::to_string(tasks.limit_pages);
  // O_TRUNC is ignored by cgroupfs; it keeps a plain file (a test's) whole.
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "open " + path);
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return Status::FromErrno(errno, "write " + text + " to " + path);
  }
  return Status::Ok();
}

void ResourceGauge::Restore(uint64_t numproc_maxheld, uint64_t numproc_failcnt) {
  std::lock_guard<std::mutex> lock(mu_);
  restored_maxheld_ = numproc_maxheld;
  restored_failcnt_ = numproc_failcnt;
  sampled_ = false;
}

}  // namespace ubc
