#include "supervisor/proc_members.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <string_view>
#include <tuple>

#include "core/memory_map.h"
#include "core/monotonic_clock.h"
#include "core/units.h"
#include "supervisor/log.h"
#include "supervisor/proc_read.h"

namespace ubc {
namespace {

// statfs f_type of cgroup2 (linux/magic.h CGROUP2_SUPER_MAGIC).
constexpr uint64_t kCgroup2Magic = 0x63677270;

// Coarse: enough for a 100 ms re-listing interval, cheaper on every decision.
std::chrono::milliseconds CoarseNow() { return std::chrono::milliseconds(CoarseMonotonicMs()); }

bool SameAddressSpace(int pid1, int pid2) {
  return ::syscall(SYS_kcmp, pid1, pid2, KCMP_VM, 0, 0) == 0;
}

// The /proc fds members keep, across every container (see SetKeptFdBudget).
std::atomic<int64_t> g_kept_fds{0};
std::atomic<int64_t> g_kept_fd_budget{INT64_MAX};

bool TakeKeptFds(int n) {
  if (g_kept_fds.fetch_add(n) + n <= g_kept_fd_budget.load(std::memory_order_relaxed)) return true;
  g_kept_fds.fetch_sub(n);
  return false;
}

// Out of a resource rather than the process gone: the read must fail as
// such, never count the member as exited.
bool IsResourceError(int error) {
  return error == EMFILE || error == ENFILE || error == ENOMEM || error == ENOBUFS;
}

}  // namespace

void ProcMembers::SetKeptFdBudget(int64_t fds) { g_kept_fd_budget = fds; }
int64_t ProcMembers::KeptFds() { return g_kept_fds.load(); }

int ReadThreadGroupId(int tid) {
  Result<std::string> text =
      ReadProcFile("/proc/" + std::to_string(tid) + "/status", ProcRecords::kOne);
  if (!text.ok()) return -1;
  return StatusTgid(*text).value_or(-1);
}

// A member whose fds did not fit the budget keeps none and is read by path
// (open, read, close each time).
struct ProcMembers::Process {
  explicit Process(int tgid) : path("/proc/" + std::to_string(tgid)) {}
  ~Process() { g_kept_fds.fetch_sub(kept); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  bool keeps_fds() const { return dir.valid(); }
  std::string path;
  UniqueFd dir;
  UniqueFd statm;
  UniqueFd children;  // the main thread's, opened at its first fork
  int kept = 0;       // of g_kept_fds
};

ProcMembers::ProcMembers(Membership membership) : membership_(std::move(membership)) {}
ProcMembers::~ProcMembers() = default;

void ProcMembers::NoteProcess(int tid) {
  std::lock_guard<std::mutex> lock(observed_mu_);
  if (membership_.kind == Membership::Kind::kObserved) observed_tids_.insert(tid);
  if (seen_tids_.insert(tid).second) {
    relist_ = true;
    if (seen_tids_.size() > 65536) seen_tids_.clear();  // bounded; costs one relist
  }
}

bool ProcMembers::Contains(ProcessLocation& where) {
  switch (membership_.kind) {
    case Membership::Kind::kCgroup: {
      const std::optional<std::string_view> path = where.CgroupPath(membership_.cgroup_controllers);
      return path && membership_.CgroupHolds(*path);
    }
    case Membership::Kind::kPidNamespace: {
      dev_t dev = 0;
      ino_t ino = 0;
      return where.PidNamespace(&dev, &ino) && dev == membership_.pidns_dev &&
             ino == membership_.pidns_ino;
    }
    case Membership::Kind::kObserved:
      break;
  }
  std::lock_guard<std::mutex> lock(observed_mu_);
  return observed_tids_.count(where.tgid()) != 0;
}

void ProcMembers::ExpectNewProcess(int forker_tid) {
  // Observed membership is made of trapping threads: a child joins it by
  // trapping, not by being forked.
  if (forker_tid <= 0 || membership_.kind == Membership::Kind::kObserved) {
    relist_ = true;
    return;
  }
  if (std::find(forkers_.begin(), forkers_.end(), forker_tid) != forkers_.end()) return;
  if (forkers_.size() >= 16) {
    relist_ = true;
    return;
  }
  forkers_.push_back(forker_tid);
}

Result<std::string> ProcMembers::ReadChildren(int tid) {
  // Only a member's main thread, through the member's directory fd: a thread
  // known by its id alone may have exited and its id gone to a process
  // outside the container, whose children would then be counted. The file
  // lists pids like cgroup.procs (space-separated) and is produced afresh on
  // every read from offset 0, so its fd is kept.
  const std::string name = "task/" + std::to_string(tid) + "/children";
  auto member = processes_.find(tid);
  if (member == processes_.end())
    return Status::Error("thread " + std::to_string(tid) + " is not a member's main thread");
  Process& p = *member->second;
  if (!p.keeps_fds() || (!p.children && !TakeKeptFds(1))) {
    return ReadProcFile(p.path + "/" + name, ProcRecords::kPids);
  }
  if (!p.children) {
    p.children = UniqueFd(::openat(p.dir.get(), name.c_str(), O_RDONLY | O_CLOEXEC));
    if (!p.children) {
      const int error = errno;
      g_kept_fds.fetch_sub(1);
      return Status::Error(name + ": " + std::strerror(error));
    }
    ++p.kept;
  }
  return ReadProcFd(p.children.get(), ProcRecords::kPids);
}

bool ProcMembers::ChildrenReaped(int tid) {
  Result<std::string> text = ReadChildren(tid);
  // A child leaves this list only when reaped (a zombie stays listed), or
  // when the thread itself exits (then the read fails).
  return text.ok() && PidListEmpty(*text);
}

bool ProcMembers::OpenChildrenOfForkers(MembersSample* out) {
  bool added = false;
  std::set<int> children;
  for (int tid : forkers_) {
    Result<std::string> text = ReadChildren(tid);
    if (!text.ok()) {
      forkers_.clear();
      return false;
    }
    AddPids(*text, &children);
  }
  forkers_.clear();
  // A child of a member is in the container's cgroup (it was forked there)
  // or pid namespace (checked as it opens); one moved out since is dropped
  // at the next listing.
  for (int pid : children) {
    if (processes_.count(pid) == 0 && Open(pid) != nullptr) added = true;
  }
  if (added) ++out->generation;
  return true;
}

Result<std::set<int>> ProcMembers::ListTgids() {
  std::set<int> out;
  switch (membership_.kind) {
    case Membership::Kind::kCgroup: {
      // A listing follows every fork, and a path lookup in cgroupfs costs
      // tens of µs when its dentries have gone cold (they have, between
      // forks): the container's cgroup directory is kept open, and on
      // cgroup2 its cgroup.procs too (read again from offset 0, the kernel
      // lists afresh). cgroup v1 serves a kept fd a cached pid list for as
      // long as it keeps being read, so there it is opened for each listing.
      const std::string path = membership_.cgroup_dir + "/cgroup.procs";
      if (!cgroup_dir_) {
        cgroup_dir_ =
            UniqueFd(::open(membership_.cgroup_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!cgroup_dir_)
          return Status::Error(membership_.cgroup_dir + ": " + std::strerror(errno));
        struct statfs fs {};
        cgroup2_ = ::fstatfs(cgroup_dir_.get(), &fs) == 0 &&
                   static_cast<uint64_t>(fs.f_type) == kCgroup2Magic;
      }
      if (!cgroup_procs_) {
        cgroup_procs_ = UniqueFd(::openat(cgroup_dir_.get(), "cgroup.procs", O_RDONLY | O_CLOEXEC));
        if (!cgroup_procs_) {
          cgroup_dir_.reset();  // removed and made again? looked up afresh next time
          return Status::Error(path + ": " + std::strerror(errno));
        }
      }
      Result<std::string> own = ReadProcFd(cgroup_procs_.get(), ProcRecords::kPids);
      if (!own.ok() || !cgroup2_) cgroup_procs_.reset();
      if (!own.ok()) {
        cgroup_dir_.reset();
        return Status::Error(path + ": " + own.status().message());
      }
      AddPids(*own, &out);
      // A cgroup directory's link count is 2 + its subdirectories: without
      // any, there is nothing below to walk.
      struct stat st {};
      if (cgroup_dir_ && ::fstat(cgroup_dir_.get(), &st) == 0 && st.st_nlink <= 2) break;
      // Cgroups the container created below its own.
      std::vector<std::string> dirs{membership_.cgroup_dir};
      for (size_t i = 0; i < dirs.size() && i < 4096; ++i) {
        if (i > 0) {
          Result<std::string> procs = ReadProcFile(dirs[i] + "/cgroup.procs", ProcRecords::kPids);
          if (!procs.ok()) continue;
          AddPids(*procs, &out);
        }
        if (DIR* d = ::opendir(dirs[i].c_str())) {
          while (dirent* e = ::readdir(d)) {
            if (e->d_type == DT_DIR && e->d_name[0] != '.')
              dirs.push_back(dirs[i] + "/" + e->d_name);
          }
          ::closedir(d);
        }
      }
      break;
    }
    case Membership::Kind::kPidNamespace: {
      DIR* d = ::opendir("/proc");
      if (d == nullptr) return Status::Error(std::string("/proc: ") + std::strerror(errno));
      while (dirent* e = ::readdir(d)) {
        const std::optional<int> entry_pid = ProcEntryPid(e->d_name);
        if (!entry_pid) continue;
        const int pid = *entry_pid;
        if (processes_.count(pid) != 0) {
          out.insert(pid);  // verified when opened; its dir fd keeps it honest
          continue;
        }
        dev_t dev;
        ino_t ino;
        if (PidNamespaceOf(std::string("/proc/") + e->d_name + "/ns/pid", &dev, &ino) &&
            dev == membership_.pidns_dev && ino == membership_.pidns_ino) {
          out.insert(pid);
        }
      }
      ::closedir(d);
      break;
    }
    case Membership::Kind::kObserved: {
      std::lock_guard<std::mutex> lock(observed_mu_);
      for (auto it = observed_tids_.begin(); it != observed_tids_.end();) {
        int tgid = ReadThreadGroupId(*it);
        if (tgid <= 0) {
          it = observed_tids_.erase(it);
          continue;
        }
        out.insert(tgid);
        ++it;
      }
      break;
    }
  }
  return out;
}

ProcMembers::Process* ProcMembers::Open(int tgid) {
  auto it = processes_.find(tgid);
  if (it != processes_.end()) return it->second.get();
  auto p = std::make_unique<Process>(tgid);
  const auto failed = [&](int error) -> Process* {
    if (IsResourceError(error) && resource_error_.ok()) {
      resource_error_ = Status::FromErrno(error, "opening " + p->path);
    }
    return nullptr;
  };
  if (TakeKeptFds(2)) {
    p->kept = 2;
    p->dir = UniqueFd(::open(p->path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!p->dir) return failed(errno);
    if (membership_.kind == Membership::Kind::kPidNamespace) {
      // Checked through the directory fd: the same process the statm fd reads.
      struct stat st {};
      if (::fstatat(p->dir.get(), "ns/pid", &st, 0) != 0) return failed(errno);
      if (st.st_dev != membership_.pidns_dev || st.st_ino != membership_.pidns_ino) return nullptr;
    }
    p->statm = UniqueFd(::openat(p->dir.get(), "statm", O_RDONLY | O_CLOEXEC));
    if (!p->statm) return failed(errno);
  } else {
    // Past the budget: by path. A pid reused between the listing and a
    // read would be misread; that needs the member to exit and its pid to
    // come round again within one decision.
    LogLimited(LogLevel::kWarning, "proc fd budget", "members read by path",
               "ubcd keeps " + std::to_string(g_kept_fds.load()) +
                   " /proc fds, its budget: further container processes are read by path");
    struct stat st {};
    if (::stat((p->path + "/statm").c_str(), &st) != 0) return failed(errno);
    if (membership_.kind == Membership::Kind::kPidNamespace) {
      if (::stat((p->path + "/ns/pid").c_str(), &st) != 0) return failed(errno);
      if (st.st_dev != membership_.pidns_dev || st.st_ino != membership_.pidns_ino) return nullptr;
    }
  }
  Process* raw = p.get();
  processes_[tgid] = std::move(p);
  return raw;
}

Status ProcMembers::Sample(MembersSample* out) {
  // Processes that appear unannounced (moved into the cgroup from outside)
  // are found by the periodic listing. Forks, execs and new threads are
  // announced. The clock is looked at every 16th sample only: near the
  // bound every decision samples, and even a coarse clock read is a cache
  // miss on the vDSO page after the context switch.
  constexpr auto kRelistInterval = std::chrono::milliseconds(100);
  bool due = relist_.exchange(false);
  if (!due && ++samples_since_clock_ >= 16) {
    samples_since_clock_ = 0;
    due = CoarseNow() - listed_at_ >= kRelistInterval;
  }
  if (!due && !forkers_.empty()) due = !OpenChildrenOfForkers(out);
  if (due) {
    forkers_.clear();
    Result<std::set<int>> tgids = ListTgids();
    if (!tgids.ok()) {
      relist_ = true;
      return tgids.status();
    }
    listed_at_ = CoarseNow();
    samples_since_clock_ = 0;
    ++out->generation;
    for (auto it = processes_.begin(); it != processes_.end();) {
      it = tgids->count(it->first) ? std::next(it) : processes_.erase(it);
    }
    for (int tgid : *tgids) Open(tgid);  // new members; verified as they open
  }
  if (!resource_error_.ok()) {
    // A member that could not be opened is not known to be gone: the
    // sample would count too little.
    Status error = std::move(resource_error_);
    resource_error_ = Status::Ok();
    relist_ = true;
    return error;
  }
  std::vector<std::pair<Statm, int>>& samples = statm_scratch_;
  samples.clear();
  for (auto it = processes_.begin(); it != processes_.end();) {
    char buf[256];
    ssize_t n;
    if (it->second->keeps_fds()) {
      n = ::pread(it->second->statm.get(), buf, sizeof buf, 0);
    } else {
      UniqueFd statm(::open((it->second->path + "/statm").c_str(), O_RDONLY | O_CLOEXEC));
      if (!statm && IsResourceError(errno)) {
        return Status::FromErrno(errno, "opening " + it->second->path + "/statm");
      }
      n = statm ? ::pread(statm.get(), buf, sizeof buf, 0) : -1;
    }
    const std::optional<Statm> s =
        n <= 0 ? std::nullopt : ParseStatm(std::string_view(buf, static_cast<size_t>(n)));
    if (!s) {
      it = processes_.erase(it);  // exited: its memory is released
      relist_ = true;             // and its children may have been reparented
      ++out->generation;
      continue;
    }
    samples.emplace_back(*s, it->first);
    ++it;
  }
  // Processes sharing one address space (vfork, CLONE_VM) have the same
  // layout; only those need the kcmp check.
  std::sort(samples.begin(), samples.end(), [](const auto& a, const auto& b) {
    return std::pair(LayoutOf(a.first), a.second) < std::pair(LayoutOf(b.first), b.second);
  });
  out->data_pages = 0;
  out->shared_anon_pages = 0;
  out->processes = samples.size();
  out->data_pages_by_tgid.clear();
  SharedAnonymousObjects shared_objects;
  for (size_t i = 0; i < samples.size(); ++i) {
    bool duplicate = false;
    for (size_t j = i; j-- > 0 && LayoutOf(samples[j].first) == LayoutOf(samples[i].first);) {
      if (SameAddressSpace(samples[j].second, samples[i].second)) {
        duplicate = true;
        break;
      }
    }
    out->data_pages_by_tgid.emplace_back(samples[i].second, StatmDataPages(samples[i].first));
    if (duplicate) continue;
    out->data_pages = SaturatingAdd(out->data_pages, StatmDataPages(samples[i].first));
    if (count_shared_anon_) NoteSharedObjectsOf(samples[i].second, &shared_objects);
  }
  if (count_shared_anon_) out->shared_anon_pages = WritableSharedAnonymousPages(shared_objects);
  std::sort(out->data_pages_by_tgid.begin(), out->data_pages_by_tgid.end());
  return Status::Ok();
}

Result<uint64_t> ProcMembers::LockedPages() {
  // (VmSize, VmLck, tgid): processes sharing one address space show the same
  // sizes, and only those need the kcmp check.
  std::vector<std::tuple<uint64_t, uint64_t, int>> spaces;
  for (const auto& [tgid, process] : processes_) {
    UniqueFd status(process->keeps_fds()
                        ? ::openat(process->dir.get(), "status", O_RDONLY | O_CLOEXEC)
                        : ::open((process->path + "/status").c_str(), O_RDONLY | O_CLOEXEC));
    if (!status) {
      if (IsResourceError(errno)) {
        return Status::FromErrno(errno, "opening " + process->path + "/status");
      }
      continue;  // exited: nothing of it is locked any more
    }
    Result<std::string> text = ReadProcFd(status.get(), ProcRecords::kOne);
    if (!text.ok()) continue;
    // A zombie has no Vm* lines: its memory is gone.
    const std::optional<uint64_t> locked_kb = StatusField(*text, "VmLck");
    if (!locked_kb || *locked_kb == 0) continue;
    spaces.emplace_back(StatusField(*text, "VmSize").value_or(0), *locked_kb, tgid);
  }
  std::sort(spaces.begin(), spaces.end());
  uint64_t pages = 0;
  for (size_t i = 0; i < spaces.size(); ++i) {
    bool duplicate = false;
    for (size_t j = i; j-- > 0 && std::get<0>(spaces[j]) == std::get<0>(spaces[i]) &&
                       std::get<1>(spaces[j]) == std::get<1>(spaces[i]);) {
      if (SameAddressSpace(std::get<2>(spaces[j]), std::get<2>(spaces[i]))) {
        duplicate = true;
        break;
      }
    }
    if (!duplicate) pages = SaturatingAdd(pages, std::get<1>(spaces[i]) / (kPageBytes / 1024));
  }
  return pages;
}

Result<uint64_t> ProcMembers::Tasks() {
  uint64_t tasks = 0;
  for (const auto& [tgid, process] : processes_) {
    UniqueFd stat(process->keeps_fds()
                      ? ::openat(process->dir.get(), "stat", O_RDONLY | O_CLOEXEC)
                      : ::open((process->path + "/stat").c_str(), O_RDONLY | O_CLOEXEC));
    if (!stat) {
      if (IsResourceError(errno)) {
        return Status::FromErrno(errno, "opening " + process->path + "/stat");
      }
      continue;  // exited: its tasks are gone
    }
    Result<std::string> text = ReadProcFd(stat.get(), ProcRecords::kOne);
    if (!text.ok()) continue;
    Result<ImageFacts> facts = ParseStatImage(*text);
    if (facts.ok()) tasks = SaturatingAdd(tasks, facts->threads);
  }
  return tasks;
}

void ProcMembers::NoteSharedObjectsOf(int tgid, SharedAnonymousObjects* objects) {
  // Through the member's kept directory fd: a recycled pid is never read. A
  // process that exited meanwhile has no mappings left to count.
  auto it = processes_.find(tgid);
  if (it == processes_.end()) return;
  UniqueFd maps(it->second->keeps_fds()
                    ? ::openat(it->second->dir.get(), "maps", O_RDONLY | O_CLOEXEC)
                    : ::open((it->second->path + "/maps").c_str(), O_RDONLY | O_CLOEXEC));
  if (!maps) return;
  Result<std::string> text = ReadProcFd(maps.get(), ProcRecords::kMany);
  if (!text.ok()) return;
  Result<std::vector<MapEntry>> entries = ParseProcMaps(*text);
  if (entries.ok()) NoteSharedAnonymousObjects(*entries, objects);
}

void ProcMembers::ReleaseAll() {
  processes_.clear();
  forkers_.clear();
  cgroup_procs_.reset();
  cgroup_dir_.reset();
  // The namespace fd keeps the container's IPC namespace (and its segments'
  // memory accounting) alive on the host for as long as ubcd holds it.
  shm_.reset();
  shm_error_ = "the container is gone";
}

int ProcMembers::ThreadGroupOf(int tid) { return ReadThreadGroupId(tid); }

CallProgress ProcMembers::Progress(int tid, int nr, const std::array<uint64_t, 6>& args) {
  Result<std::string> text =
      ReadProcFile("/proc/" + std::to_string(tid) + "/syscall", ProcRecords::kOne);
  if (!text.ok()) return CallProgress::kDone;  // the thread is gone
  return ProgressFromSyscall(*text, nr, args);
}

}  // namespace ubc
