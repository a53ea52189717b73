#include "supervisor/proc_process_view.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sstream>
#include <string_view>
#include <tuple>
#include <vector>

#include "core/units.h"

namespace ubc {
namespace {

// statfs f_type of cgroup2 (linux/magic.h CGROUP2_SUPER_MAGIC).
constexpr uint64_t kCgroup2Magic = 0x63677270;

// Generous for maps of large processes, but bounded.
constexpr size_t kMaxProcFileBytes = 64 << 20;

// How a /proc file is produced, which says when a read has seen all of it.
enum class Records {
  // One record made whole before the first byte is read (stat, statm,
  // status, syscall, cgroup: the kernel's single_open): a read shorter than
  // the buffer is the end, and the read for EOF is saved. The reads made
  // for a rare event (a fork, an exec) find everything cold, where each
  // system call costs tens of µs.
  kOne,
  // cgroup.procs: a listing of lines of at most 8 bytes ("4194304\n"). seq_file
  // ends a read early only at the end of the listing, at the reader's buffer
  // size, or when the next record does not fit its own buffer (a page at
  // least): a read that left room for one more line was the end.
  kPids,
  kMany,  // other listings (maps, mountinfo): read until EOF
};
constexpr size_t kPidsWholeBelowBytes = 4096 - 16;

// From offset 0 whatever the fd's position: a kept fd (cgroup.procs) is read
// again this way, and seq_file restarts its listing at 0.
Result<std::string> ReadFd(int fd, Records records) {
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(out.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Error(std::string("read: ") + std::strerror(errno));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (records == Records::kOne && static_cast<size_t>(n) < sizeof buf) break;
    if (records == Records::kPids && out.size() < kPidsWholeBelowBytes) break;
    if (out.size() > kMaxProcFileBytes) return Status::Error("file too large");
  }
  return out;
}

Result<std::string> ReadPath(const std::string& path, Records records) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Status::Error(path + ": " + std::strerror(errno));
  return ReadFd(fd.get(), records);
}

// The seven statm fields; compared whole to spot processes sharing one
// address space. The header's scratch vector holds the same type.
using Statm = std::array<uint64_t, 7>;
uint64_t StatmDataPages(const Statm& s) { return s[5]; }

// Runs on every exact decision: no locale, no allocation.
bool ParseStatm(std::string_view text, Statm* out) {
  const char* p = text.data();
  const char* const end = p + text.size();
  for (int i = 0; i < 7; ++i) {
    if (i > 0) {
      if (p == end || *p != ' ') return false;
      ++p;
    }
    auto [next, ec] = std::from_chars(p, end, (*out)[i]);
    if (ec != std::errc() || next == p) return false;
    p = next;
  }
  return p == end || *p == '\n';
}

// Coarse (jiffy resolution) and read from the vDSO without touching the
// TSC: enough for a 100 ms re-listing interval, cheaper on every decision.
std::chrono::milliseconds CoarseNow() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::chrono::milliseconds(int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000);
}

bool SameAddressSpace(int pid1, int pid2) {
  return ::syscall(SYS_kcmp, pid1, pid2, KCMP_VM, 0, 0) == 0;
}

bool ParsePositiveInt(const char* s, int* out) {
  if (*s == '\0') return false;
  long v = 0;
  for (const char* p = s; *p; ++p) {
    if (*p < '0' || *p > '9') return false;
    v = v * 10 + (*p - '0');
    if (v > 1 << 30) return false;
  }
  *out = static_cast<int>(v);
  return v > 0;
}

struct CgroupLine {
  std::string controllers;  // "" for the unified hierarchy
  std::string path;
};

std::vector<CgroupLine> ReadCgroups(int pid) {
  std::vector<CgroupLine> out;
  Result<std::string> text = ReadPath("/proc/" + std::to_string(pid) + "/cgroup", Records::kOne);
  if (!text.ok()) return out;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    size_t a = line.find(':');
    size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    out.push_back({line.substr(a + 1, b - a - 1), line.substr(b + 1)});
  }
  return out;
}

// Mount point of the cgroup hierarchy with these controllers ("" = cgroup2),
// mounted at its root.
std::string CgroupMountPoint(const std::string& controllers) {
  Result<std::string> text = ReadPath("/proc/self/mountinfo", Records::kMany);
  if (!text.ok()) return "";
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    std::string w;
    while (fields >> w) f.push_back(w);
    auto dash = std::find(f.begin(), f.end(), "-");
    if (f.size() < 5 || dash == f.end() || dash + 3 > f.end()) continue;
    const std::string& root = f[3];
    const std::string& mount_point = f[4];
    const std::string& fstype = *(dash + 1);
    const std::string& super = dash + 3 < f.end() ? *(dash + 3) : "";
    if (root != "/") continue;
    if (controllers.empty()) {
      if (fstype == "cgroup2") return mount_point;
      continue;
    }
    if (fstype != "cgroup") continue;
    // Every controller of the hierarchy appears among the super options.
    std::istringstream want(controllers);
    std::string c;
    bool all = true;
    while (std::getline(want, c, ',')) {
      if (("," + super + ",").find("," + c + ",") == std::string::npos) all = false;
    }
    if (all) return mount_point;
  }
  return "";
}

// The pids of a cgroup.procs listing, one per line.
void AddPids(std::string_view text, std::set<int>* out) {
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p < end) {
    int pid = 0;
    auto [next, ec] = std::from_chars(p, end, pid);
    if (ec == std::errc() && pid > 0) out->insert(pid);
    p = next == p ? p + 1 : next;
    while (p < end && (*p == '\n' || *p == ' ')) ++p;
  }
}

bool StatNs(const std::string& path, dev_t* dev, ino_t* ino) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return false;
  *dev = st.st_dev;
  *ino = st.st_ino;
  return true;
}

}  // namespace

// ---------------------------------------------------------------- ProcTarget

ProcTarget::ProcTarget(const SeccompNotifier& notifier, uint64_t notification_id, int tid)
    : notifier_(notifier), id_(notification_id), tid_(tid) {}

Result<std::string> ProcTarget::ReadVerified(const char* file) {
  std::string path = "/proc/" + std::to_string(tid_) + "/" + file;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Status::Error(path + ": " + std::strerror(errno));
  // Only now is it certain that `fd` belongs to the thread that is waiting:
  // had it died and its pid been reused, the notification would be gone.
  if (!notifier_.IdValid(id_)) return Status::Error(path + ": notification no longer valid");
  return ReadFd(fd.get(), std::strcmp(file, "maps") == 0 ? Records::kMany : Records::kOne);
}

Result<uint64_t> ProcTarget::DataPages() {
  Result<std::string> text = ReadVerified("statm");
  if (!text.ok()) return text.status();
  Statm s;
  if (!ParseStatm(*text, &s)) return Status::Error("unparsable statm");
  return StatmDataPages(s);
}

Result<std::vector<MapEntry>> ProcTarget::Maps() {
  Result<std::string> text = ReadVerified("maps");
  if (!text.ok()) return text.status();
  return ParseProcMaps(*text);
}

Result<ImageFacts> ProcTarget::Image() {
  Result<std::string> text = ReadVerified("stat");
  if (!text.ok()) return text.status();
  // comm may contain spaces and parentheses: fields restart after the last ')'.
  size_t close = text->rfind(')');
  if (close == std::string::npos) return Status::Error("unparsable stat");
  std::istringstream in(text->substr(close + 1));
  std::string field;
  ImageFacts facts;
  for (int n = 3; in >> field; ++n) {
    if (n == 23) {
      facts.vm_pages = PagesForBytes(std::strtoull(field.c_str(), nullptr, 10));
    } else if (n == 47) {
      facts.start_brk = std::strtoull(field.c_str(), nullptr, 10);
      return facts;
    }
  }
  return Status::Error("stat has no start_brk field");
}

std::string ProcTarget::Comm() {
  Result<std::string> text = ReadVerified("comm");
  if (!text.ok() || text->empty()) return "?";
  std::string c = *text;
  if (!c.empty() && c.back() == '\n') c.pop_back();
  return c;
}

// ---------------------------------------------------------------- Membership

std::string Membership::Describe() const {
  switch (kind) {
    case Kind::kCgroup:
      return "cgroup " + cgroup_dir;
    case Kind::kPidNamespace:
      return "pid namespace " + std::to_string(pidns_ino);
    case Kind::kObserved:
      break;
  }
  return "observed processes";
}

Membership DetermineMembership(int init_pid, int runtime_pid) {
  Membership m;
  // A cgroup of the container's own: the init is in a different cgroup than
  // the runtime that started it (runc with cgroups, podman, containerd).
  std::vector<CgroupLine> init_cg = ReadCgroups(init_pid);
  std::vector<CgroupLine> runtime_cg = runtime_pid > 0 ? ReadCgroups(runtime_pid)
                                                        : std::vector<CgroupLine>{};
  for (const CgroupLine& line : init_cg) {
    // Prefer hierarchies every process is attached to; named ones like
    // name=systemd are not always managed by the runtime.
    if (line.controllers.rfind("name=", 0) == 0) continue;
    auto same = std::find_if(runtime_cg.begin(), runtime_cg.end(), [&](const CgroupLine& r) {
      return r.controllers == line.controllers;
    });
    if (same == runtime_cg.end() || same->path == line.path || line.path == "/") continue;
    std::string mount = CgroupMountPoint(line.controllers);
    if (mount.empty()) continue;
    std::string dir = mount + line.path;
    if (::access((dir + "/cgroup.procs").c_str(), R_OK) != 0) continue;
    m.kind = Membership::Kind::kCgroup;
    m.cgroup_dir = dir;
    return m;
  }
  dev_t dev = 0, own_dev = 0;
  ino_t ino = 0, own_ino = 0;
  if (StatNs("/proc/" + std::to_string(init_pid) + "/ns/pid", &dev, &ino) &&
      StatNs("/proc/self/ns/pid", &own_dev, &own_ino) && (dev != own_dev || ino != own_ino)) {
    m.kind = Membership::Kind::kPidNamespace;
    m.pidns_dev = dev;
    m.pidns_ino = ino;
    return m;
  }
  m.kind = Membership::Kind::kObserved;
  return m;
}

int ReadThreadGroupId(int tid) {
  Result<std::string> text = ReadPath("/proc/" + std::to_string(tid) + "/status", Records::kOne);
  if (!text.ok()) return -1;
  size_t pos = text->find("\nTgid:");
  if (pos == std::string::npos) return -1;
  return std::atoi(text->c_str() + pos + 6);
}

// ---------------------------------------------------------------- ProcMembers

struct ProcMembers::Process {
  UniqueFd dir;
  UniqueFd statm;
  UniqueFd children;  // the main thread's, opened at its first fork
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
  if (!p.children) {
    p.children = UniqueFd(::openat(p.dir.get(), name.c_str(), O_RDONLY | O_CLOEXEC));
    if (!p.children) return Status::Error(name + ": " + std::strerror(errno));
  }
  return ReadFd(p.children.get(), Records::kPids);
}

bool ProcMembers::ChildrenReaped(int tid) {
  Result<std::string> text = ReadChildren(tid);
  // A child leaves this list only when reaped (a zombie stays listed), or
  // when the thread itself exits (then the read fails).
  return text.ok() && text->find_first_of("0123456789") == std::string::npos;
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
      Result<std::string> own = ReadFd(cgroup_procs_.get(), Records::kPids);
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
          Result<std::string> procs = ReadPath(dirs[i] + "/cgroup.procs", Records::kPids);
          if (!procs.ok()) continue;
          AddPids(*procs, &out);
        }
        if (DIR* d = ::opendir(dirs[i].c_str())) {
          while (dirent* e = ::readdir(d)) {
            if (e->d_type == DT_DIR && e->d_name[0] != '.') dirs.push_back(dirs[i] + "/" + e->d_name);
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
        int pid;
        if (!ParsePositiveInt(e->d_name, &pid)) continue;
        if (processes_.count(pid) != 0) {
          out.insert(pid);  // verified when opened; its dir fd keeps it honest
          continue;
        }
        dev_t dev;
        ino_t ino;
        if (StatNs(std::string("/proc/") + e->d_name + "/ns/pid", &dev, &ino) &&
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
  auto p = std::make_unique<Process>();
  std::string path = "/proc/" + std::to_string(tgid);
  p->dir = UniqueFd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!p->dir) return nullptr;
  if (membership_.kind == Membership::Kind::kPidNamespace) {
    // Checked through the directory fd: the same process the statm fd reads.
    struct stat st{};
    if (::fstatat(p->dir.get(), "ns/pid", &st, 0) != 0 || st.st_dev != membership_.pidns_dev ||
        st.st_ino != membership_.pidns_ino) {
      return nullptr;
    }
  }
  p->statm = UniqueFd(::openat(p->dir.get(), "statm", O_RDONLY | O_CLOEXEC));
  if (!p->statm) return nullptr;
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
  std::vector<std::pair<Statm, int>>& samples = statm_scratch_;
  samples.clear();
  for (auto it = processes_.begin(); it != processes_.end();) {
    char buf[256];
    ssize_t n = ::pread(it->second->statm.get(), buf, sizeof buf, 0);
    Statm s;
    if (n <= 0 || !ParseStatm(std::string_view(buf, static_cast<size_t>(n)), &s)) {
      it = processes_.erase(it);  // exited: its memory is released
      relist_ = true;             // and its children may have been reparented
      ++out->generation;
      continue;
    }
    samples.emplace_back(s, it->first);
    ++it;
  }
  // Processes sharing one address space (vfork, CLONE_VM) have identical statm
  // lines; only those need the kcmp check.
  std::sort(samples.begin(), samples.end());
  out->data_pages = 0;
  out->processes = samples.size();
  out->data_pages_by_tgid.clear();
  for (size_t i = 0; i < samples.size(); ++i) {
    bool duplicate = false;
    for (size_t j = i; j-- > 0 && samples[j].first == samples[i].first;) {
      if (SameAddressSpace(samples[j].second, samples[i].second)) {
        duplicate = true;
        break;
      }
    }
    out->data_pages_by_tgid.emplace_back(samples[i].second, StatmDataPages(samples[i].first));
    if (!duplicate)
      out->data_pages = SaturatingAdd(out->data_pages, StatmDataPages(samples[i].first));
  }
  std::sort(out->data_pages_by_tgid.begin(), out->data_pages_by_tgid.end());
  return Status::Ok();
}

void ProcMembers::ReleaseAll() {
  processes_.clear();
  forkers_.clear();
  cgroup_procs_.reset();
  cgroup_dir_.reset();
}

int ProcMembers::ThreadGroupOf(int tid) { return ReadThreadGroupId(tid); }

CallProgress ProcMembers::Progress(int tid, int nr, const std::array<uint64_t, 6>& args) {
  Result<std::string> text = ReadPath("/proc/" + std::to_string(tid) + "/syscall", Records::kOne);
  if (!text.ok()) return CallProgress::kDone;  // the thread is gone
  if (text->rfind("running", 0) == 0) return CallProgress::kUnknown;
  std::istringstream in(*text);
  long long number = -1;
  if (!(in >> number) || number != nr) return CallProgress::kDone;
  for (uint64_t expected : args) {
    std::string hex;
    if (!(in >> hex)) return CallProgress::kDone;
    if (std::strtoull(hex.c_str(), nullptr, 16) != expected) return CallProgress::kDone;
  }
  return CallProgress::kInside;
}

}  // namespace ubc
