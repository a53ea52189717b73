#define FUSE_USE_VERSION 34
#include "supervisor/proc_view_fs.h"

#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/file_reader.h"
#include "core/monotonic_clock.h"
#include "core/proc_text.h"
#include "supervisor/log.h"
#include "supervisor/seccomp_notifier.h"

namespace ubc {
namespace {

// Inodes. The root holds meminfo (2) and user_beancounters (3) and, under
// any name ubc-hook picks for a container (a token), a directory with the
// same two files. Each container binds its own directory's files: inodes, and
// the page cache a splice read fills, are then never shared between
// containers. Token inodes are derived from the name, so nothing is kept per
// token and a takeover finds the kernel's inodes unchanged:
// hash << 2 | 0 (directory), | 1 (meminfo), | 2 (user_beancounters).
constexpr fuse_ino_t kMeminfoIno = 2;
constexpr fuse_ino_t kBeancountersIno = 3;
constexpr fuse_ino_t kTokenBit = fuse_ino_t{1} << 62;
constexpr size_t kMaxTokenBytes = 64;

enum class Node { kNone, kRoot, kTokenDir, kMeminfo, kBeancounters };

Node NodeOf(fuse_ino_t ino) {
  if (ino == FUSE_ROOT_ID) return Node::kRoot;
  if (ino == kMeminfoIno) return Node::kMeminfo;
  if (ino == kBeancountersIno) return Node::kBeancounters;
  if ((ino & kTokenBit) == 0) return Node::kNone;
  switch (ino & 3) {
    case 0:
      return Node::kTokenDir;
    case 1:
      return Node::kMeminfo;
    case 2:
      return Node::kBeancounters;
    default:
      return Node::kNone;
  }
}

bool IsFile(Node n) { return n == Node::kMeminfo || n == Node::kBeancounters; }
bool IsDir(Node n) { return n == Node::kRoot || n == Node::kTokenDir; }

bool ValidToken(std::string_view name) {
  return !name.empty() && name.size() <= kMaxTokenBytes &&
         std::all_of(name.begin(), name.end(),
                     [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                              c == '.';
                     }) &&
         name != "." && name != "..";
}

uint64_t Fnv1a(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : bytes) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return h;
}

fuse_ino_t TokenDirIno(std::string_view token) {
  const uint64_t h = Fnv1a(token);
  return ((h & ((uint64_t{1} << 60) - 1)) << 2) | kTokenBit;
}

// The child `name` of directory `parent`; 0 when there is none.
fuse_ino_t ChildOf(fuse_ino_t parent, const char* name) {
  const Node p = NodeOf(parent);
  const bool meminfo = std::strcmp(name, "meminfo") == 0;
  const bool beancounters = std::strcmp(name, "user_beancounters") == 0;
  if (p == Node::kRoot) {
    if (meminfo) return kMeminfoIno;
    if (beancounters) return kBeancountersIno;
    return ValidToken(name) ? TokenDirIno(name) : 0;
  }
  if (p == Node::kTokenDir) {
    if (meminfo) return parent | 1;
    if (beancounters) return parent | 2;
  }
  return 0;
}

constexpr double kAttrTimeoutS = 3600;  // the tree never changes
// How long the kernel keeps what a container reader was shown (the file's
// size and time, so also its cached page): reads within it cost no request.
constexpr int64_t kFileKeepMs = 10;
constexpr double kFileKeepS = kFileKeepMs / 1000.0;
constexpr auto kSpinForNextRequest = std::chrono::microseconds(50);

// The kernel's FUSE ABI for the two messages libfuse has no call for: a
// synthetic INIT (takeover) and FUSE_NOTIFY_RESEND (Linux 6.9).
struct InHeader {
  uint32_t len, opcode;
  uint64_t unique, nodeid;
  uint32_t uid, gid, pid;
  uint16_t total_extlen, padding;
};
struct InitIn {
  uint32_t major, minor, max_readahead, flags, flags2;
  uint32_t unused[11];
};
struct OutHeader {
  uint32_t len;
  int32_t error;
  uint64_t unique;
};
constexpr uint32_t kOpInit = 26;
constexpr uint32_t kInitAsyncRead = 1u << 0, kInitBigWrites = 1u << 5, kInitMaxPages = 1u << 22,
                   kInitParallelDirops = 1u << 18;
constexpr int32_t kNotifyResend = 7;
// Never issued by the kernel (its uniques count up from 2 in steps of 2):
// the reply to the synthetic INIT finds no request and is dropped.
constexpr uint64_t kSyntheticUnique = 0x7ffffffffffffff0ull;

ProcViewFs* Self(fuse_req_t req) { return static_cast<ProcViewFs*>(fuse_req_userdata(req)); }

// Files: their size is that of the text the caller would read now, so that
// readers see all of it through the page cache, which stops at the size. The
// modification time is a hash of that text: the kernel drops a file's cached
// page when a GETATTR brings a time other than the one it had
// (FUSE_AUTO_INVAL_DATA), so a text that changed is read afresh and one that
// did not is kept.
struct stat AttrOf(fuse_ino_t ino, std::string_view text) {
  struct stat st {};
  st.st_ino = ino;
  if (IsDir(NodeOf(ino))) {
    st.st_mode = S_IFDIR | 0555;
    st.st_nlink = 2;
  } else {
    st.st_mode = S_IFREG | 0444;
    st.st_nlink = 1;
    st.st_size = static_cast<off_t>(text.size());
    const uint64_t h = Fnv1a(text);
    st.st_mtim.tv_sec = static_cast<time_t>(h >> 34);
    st.st_mtim.tv_nsec = static_cast<long>((h & ((uint64_t{1} << 30) - 1)) % 1000000000);
  }
  return st;
}

double AttrTimeoutOf(fuse_ino_t ino, const ProcViewContent& content) {
  if (IsDir(NodeOf(ino))) return kAttrTimeoutS;
  return content.container ? kFileKeepS : 0.0;
}

void OpInit(void*, fuse_conn_info* conn) {
  // Both on by default in libfuse 3.14; said here because the cache's
  // freshness rests on them.
  if ((conn->capable & FUSE_CAP_AUTO_INVAL_DATA) == 0) {
    Log(LogLevel::kWarning,
        "proc view: the kernel has no FUSE_AUTO_INVAL_DATA: containers' views may stay stale");
  }
  conn->want |= conn->capable & FUSE_CAP_AUTO_INVAL_DATA;
}

void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Self(req)->Lookup(req, parent, name);
}

void OpGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) { Self(req)->Getattr(req, ino); }

void OpSetattr(fuse_req_t req, fuse_ino_t, struct stat*, int, fuse_file_info*) {
  fuse_reply_err(req, EACCES);
}

void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) { Self(req)->Open(req, ino, fi); }

void OpRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  Self(req)->Read(req, ino, size, off, fi);
}

void OpWrite(fuse_req_t req, fuse_ino_t, const char*, size_t, off_t, fuse_file_info*) {
  fuse_reply_err(req, EACCES);
}

void OpOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (!IsDir(NodeOf(ino))) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  fuse_reply_open(req, fi);
}

void OpReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  if (!IsDir(NodeOf(ino))) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  struct Entry {
    const char* name;
    fuse_ino_t ino;
  };
  const bool root = ino == FUSE_ROOT_ID;
  const Entry entries[] = {{".", ino},
                           {"..", FUSE_ROOT_ID},
                           {"meminfo", root ? kMeminfoIno : ino | 1},
                           {"user_beancounters", root ? kBeancountersIno : ino | 2}};
  std::vector<char> buf(std::min<size_t>(size, 4096));
  size_t used = 0;
  for (off_t i = std::max<off_t>(off, 0); i < static_cast<off_t>(std::size(entries)); ++i) {
    const struct stat st = AttrOf(entries[i].ino, {});
    const size_t need =
        fuse_add_direntry(req, buf.data() + used, buf.size() - used, entries[i].name, &st, i + 1);
    if (need > buf.size() - used) break;
    used += need;
  }
  fuse_reply_buf(req, buf.data(), used);
}

void FuseLog(enum fuse_log_level level, const char* fmt, va_list ap) {
  char line[512];
  std::vsnprintf(line, sizeof(line), fmt, ap);
  std::string text(line);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  LogLimited(level <= FUSE_LOG_ERR ? LogLevel::kWarning : LogLevel::kDebug, "libfuse",
             "libfuse messages", "proc view: " + text);
}

const fuse_lowlevel_ops kOps = [] {
  fuse_lowlevel_ops ops{};
  ops.init = OpInit;
  ops.lookup = OpLookup;
  ops.getattr = OpGetattr;
  ops.setattr = OpSetattr;
  ops.open = OpOpen;
  ops.read = OpRead;
  ops.write = OpWrite;
  ops.opendir = OpOpendir;
  ops.readdir = OpReaddir;
  return ops;
}();

// The mount point as mountinfo spells it: the parent resolved, the last
// component kept (resolving it would stat the mount).
std::string MountPointOf(const std::string& dir) {
  std::filesystem::path p(dir);
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::weakly_canonical(p.parent_path(), ec);
  if (ec) parent = p.parent_path();
  return (parent / p.filename()).string();
}

// The fstype mounted at `mount_point` by this process's mountinfo.
std::string FsTypeAt(const std::string& mount_point) {
  Result<std::string> mountinfo = ReadFileBounded("/proc/self/mountinfo", 16 << 20);
  return mountinfo.ok() ? ubc::FsTypeAt(*mountinfo, mount_point) : std::string();
}

}  // namespace

bool IsProcViewMount(const std::string& dir) {
  return FsTypeAt(MountPointOf(dir)) == kProcViewFsType;
}

bool IsFuseConnection(int fd) {
  struct stat st {};
  // /dev/fuse is the misc character device 10:229.
  return ::fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 10 &&
         minor(st.st_rdev) == 229;
}

namespace {

// Detaches what is stale at `mount_point`, creates it and mounts the view
// served through `fuse_fd`, in the calling process's mount namespace.
Status MountViewHere(const std::string& mount_point, int fuse_fd) {
  // Whatever FUSE file system is there nobody serves for us now (a stale view
  // of ours would have come back from the fd store): detached without a stat.
  for (std::string type = FsTypeAt(mount_point); type.rfind("fuse", 0) == 0;
       type = FsTypeAt(mount_point)) {
    if (::umount2(mount_point.c_str(), MNT_DETACH) != 0) {
      return Status::Error("detaching the stale mount at " + mount_point + ": " +
                           std::strerror(errno));
    }
    Log(LogLevel::kInfo, "proc view: detached a stale " + type + " mount at " + mount_point);
  }
  std::error_code ec;
  std::filesystem::create_directories(mount_point, ec);
  if (ec) return Status::Error("creating " + mount_point + ": " + ec.message());
  ::chmod(mount_point.c_str(), 0755);
  // Read-only: opens for writing fail before they reach ubcd (EROFS), which
  // answers no OPEN (see Open).
  const std::string options = "fd=" + std::to_string(fuse_fd) +
                              ",rootmode=40000,user_id=0,group_id=0,allow_other,"
                              "default_permissions";
  if (::mount("ubc", mount_point.c_str(), kProcViewFsType,
              MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, options.c_str()) != 0) {
    return Status::Error("mounting " + std::string(kProcViewFsType) + " at " + mount_point + ": " +
                         std::strerror(errno));
  }
  return Status::Ok();
}

ino_t MountNamespaceOf(const std::string& pid) {
  struct stat st {};
  return ::stat(("/proc/" + pid + "/ns/mnt").c_str(), &st) == 0 ? st.st_ino : 0;
}

// The same in the mount namespace of the process that started ubcd, from a
// child that joins it: a service manager may run ubcd in a namespace of its
// own (systemd's ProtectSystem=, PrivateTmp=: a slave of PID 1's), whose
// mounts never reach the runtimes that bind the view into containers. The
// child inherits `fuse_fd` at the same number. Called while ubcd has one
// thread (setns of a mount namespace needs an unshared fs_struct).
Status MountViewInNamespaceOf(const std::string& pid, const std::string& mount_point, int fuse_fd) {
  const std::string path = "/proc/" + pid + "/ns/mnt";
  UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return Status::Error("opening " + path + ": " + std::strerror(errno));
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  UniqueFd reader(pipe_fds[0]), writer(pipe_fds[1]);
  const pid_t child = ::fork();
  if (child < 0) return Status::FromErrno(errno, "fork");
  if (child == 0) {
    reader.reset();
    Status s = ::setns(ns.get(), CLONE_NEWNS) == 0
                   ? MountViewHere(mount_point, fuse_fd)
                   : Status::Error(std::string("joining the host's mount namespace: ") +
                                   std::strerror(errno));
    const std::string& message = s.message();
    if (!s.ok() && ::write(writer.get(), message.data(), message.size()) < 0) ::_exit(2);
    ::_exit(s.ok() ? 0 : 1);
  }
  writer.reset();
  std::string message(512, '\0');
  ssize_t n;
  while ((n = ::read(reader.get(), message.data(), message.size())) < 0 && errno == EINTR) {
  }
  int wstatus = 0;
  while (::waitpid(child, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return Status::Ok();
  message.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return Status::Error(message.empty() ? "mounting in the host's mount namespace failed" : message);
}

}  // namespace

Result<UniqueFd> MountProcView(const std::string& dir) {
  const std::string mount_point = MountPointOf(dir);
  UniqueFd fd(::open("/dev/fuse", O_RDWR | O_CLOEXEC));
  if (!fd) return Status::Error(std::string("opening /dev/fuse: ") + std::strerror(errno));
  // The runtimes run where ubcd's starter does (systemd: PID 1); a starter
  // whose namespace cannot be read (another pid namespace) leaves it here.
  const std::string parent = std::to_string(::getppid());
  const ino_t own = MountNamespaceOf("self"), starter = MountNamespaceOf(parent);
  if (own != 0 && starter != 0 && own != starter) {
    if (Status s = MountViewInNamespaceOf(parent, mount_point, fd.get()); !s.ok()) return s;
    Log(LogLevel::kInfo, "proc view: mounted in the mount namespace of ubcd's starter (pid " +
                             parent + "), where the runtimes are: ubcd runs in one of its own");
    return fd;
  }
  if (Status s = MountViewHere(mount_point, fd.get()); !s.ok()) return s;
  return fd;
}

ProcViewFs::ProcViewFs(ProcViewRender render) : render_(std::move(render)) {}

Result<std::unique_ptr<ProcViewFs>> ProcViewFs::Start(UniqueFd fuse_fd, bool recovered,
                                                      ProcViewRender render) {
  if (!IsFuseConnection(fuse_fd.get())) return Status::Error("proc view: not a /dev/fuse fd");
  std::unique_ptr<ProcViewFs> fs(new ProcViewFs(std::move(render)));
  InstallWakeSignal();
  fuse_set_log_func(FuseLog);
  char arg0[] = "ubcd";
  char* argv[] = {arg0, nullptr};
  fuse_args args = FUSE_ARGS_INIT(1, argv);
  fs->session_ = fuse_session_new(&args, &kOps, sizeof(kOps), fs.get());
  fuse_opt_free_args(&args);  // the copy libfuse's option parsing made of argv
  if (fs->session_ == nullptr) return Status::Error("proc view: fuse_session_new failed");
  // "/dev/fd/N": libfuse serves an fd mounted by someone else, and owns it.
  const std::string dev = "/dev/fd/" + std::to_string(fuse_fd.get());
  if (fuse_session_mount(fs->session_, dev.c_str()) != 0) {
    fuse_session_destroy(fs->session_);
    fs->session_ = nullptr;
    return Status::Error("proc view: libfuse refused " + dev);
  }
  const int fd = fuse_fd.release();
  if (recovered) {
    // The kernel initialised this connection with the previous server; libfuse
    // must see an INIT before anything else. The same flags keep its buffer
    // as large as the kernel's negotiated requests.
    struct {
      InHeader h;
      InitIn init;
    } msg{};
    msg.h.len = sizeof(msg);
    msg.h.opcode = kOpInit;
    msg.h.unique = kSyntheticUnique;
    msg.init.major = 7;
    msg.init.minor = 31;
    msg.init.max_readahead = 128 * 1024;
    msg.init.flags = kInitAsyncRead | kInitBigWrites | kInitMaxPages | kInitParallelDirops;
    fuse_buf buf{};
    buf.mem = &msg;
    buf.size = sizeof(msg);
    fuse_session_process_buf(fs->session_, &buf);
    // Requests the previous server read and never answered go back to the
    // queue. Older kernels refuse (EINVAL): those requests stay unanswered.
    const OutHeader resend{sizeof(OutHeader), kNotifyResend, 0};
    if (::write(fd, &resend, sizeof(resend)) != static_cast<ssize_t>(sizeof(resend))) {
      Log(LogLevel::kInfo, std::string("proc view: no FUSE_NOTIFY_RESEND (") +
                               std::strerror(errno) +
                               "): reads the previous ubcd had taken are not answered");
    }
  }
  fs->thread_ = std::thread([p = fs.get()] { p->Run(); });
  fs->thread_native_ = fs->thread_.native_handle();
  return fs;
}

ProcViewFs::~ProcViewFs() {
  Stop();
  if (session_ != nullptr) fuse_session_destroy(session_);  // closes our fd
}

void ProcViewFs::Stop() {
  if (stopped_) return;
  stopped_ = true;
  stopping_.store(true);
  if (!thread_.joinable()) return;
  // The signal may land just before the thread blocks in read: sent again
  // until the thread is out.
  std::atomic<bool> joined{false};
  std::thread joiner([&] {
    thread_.join();
    joined.store(true);
  });
  while (!joined.load()) {
    ::pthread_kill(thread_native_, kWakeSignal);
    for (int i = 0; i < 20 && !joined.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  joiner.join();
}

void ProcViewFs::Run() {
  // A blocking read, not poll + read: a syscall less on every request, each of
  // which a reader waits for. Stop() interrupts it with kWakeSignal.
  fuse_buf buf{};
  const int fd = fuse_session_fd(session_);
  bool served = false;
  while (!stopping_.load()) {
    // A read is a burst of requests (GETATTR, READ), each a
    // reader waiting; going to sleep between them puts a wake-up (tens of
    // µs on a VM) in front of each. So after serving one, the next is
    // polled for a short while before the thread blocks.
    if (served) {
      pollfd p{fd, POLLIN, 0};
      const auto until = std::chrono::steady_clock::now() + kSpinForNextRequest;
      while (::poll(&p, 1, 0) == 0 && std::chrono::steady_clock::now() < until) {
      }
    }
    served = false;
    const int n = fuse_session_receive_buf(session_, &buf);
    if (n == -EINTR || n == -EAGAIN) continue;
    if (n <= 0) {
      if (stopping_.load()) break;
      Log(LogLevel::kWarning,
          n == 0 ? std::string("proc view: the FUSE connection was closed (unmounted or aborted)")
                 : std::string("proc view: reading /dev/fuse: ") + std::strerror(-n));
      break;
    }
    fuse_session_process_buf(session_, &buf);
    requests_.fetch_add(1, std::memory_order_relaxed);
    served = true;
  }
  std::free(buf.mem);
}

ProcViewContent ProcViewFs::RenderFor(fuse_req* req, uint64_t ino, bool reading) {
  const ProcViewFile file =
      NodeOf(ino) == Node::kMeminfo ? ProcViewFile::kMeminfo : ProcViewFile::kUserBeancounters;
  return render_(file, fuse_req_ctx(req)->pid, reading);
}

ProcViewContent ProcViewFs::RenderShown(fuse_req* req, uint64_t ino) {
  ProcViewContent content;
  if (!IsFile(NodeOf(ino))) return content;
  content = RenderFor(req, ino, false);
  // Anyone else's READ renders afresh, as a read (the renderer logs reads by
  // processes in no container); their sizes are not kept anyway.
  if (!content.container) {
    shown_.erase(ino);
    return content;
  }
  if (shown_.size() >= kMaxShownFiles && shown_.count(ino) == 0) shown_.clear();
  shown_[ino] = Shown{fuse_req_ctx(req)->pid, MonotonicMs(), content.text};
  return content;
}

void ProcViewFs::Lookup(fuse_req* req, uint64_t parent, const char* name) {
  const fuse_ino_t ino = ChildOf(parent, name);
  if (ino == 0) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  const ProcViewContent content = RenderShown(req, ino);
  fuse_entry_param e{};
  e.ino = ino;
  e.attr = AttrOf(ino, content.text);
  e.attr_timeout = AttrTimeoutOf(ino, content);
  e.entry_timeout = kAttrTimeoutS;  // names never change what they are
  fuse_reply_entry(req, &e);
}

void ProcViewFs::Getattr(fuse_req* req, uint64_t ino) {
  const Node node = NodeOf(ino);
  if (node == Node::kNone) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  const ProcViewContent content = RenderShown(req, ino);
  const struct stat st = AttrOf(ino, content.text);
  fuse_reply_attr(req, &st, AttrTimeoutOf(ino, content));
}

void ProcViewFs::Open(fuse_req* req, uint64_t ino, fuse_file_info* fi) {
  if (!IsFile(NodeOf(ino))) {
    fuse_reply_err(req, IsDir(NodeOf(ino)) ? EISDIR : ENOENT);
    return;
  }
  // Root in a container passes the mode check (CAP_DAC_OVERRIDE): refused
  // here, for a mount an older ubcd made writable (ours is read-only).
  if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC) != 0) {
    fuse_reply_err(req, EACCES);
    return;
  }
  // No OPEN support: the kernel then sends no more OPENs, RELEASEs or
  // FLUSHes on this connection and serves reads from the page cache, which
  // the file's time and kFileKeepS keep fresh. That takes two of the three
  // requests an open + read + close cost (docs/performance.md).
  fuse_reply_err(req, ENOSYS);
}

void ProcViewFs::Read(fuse_req* req, uint64_t ino, size_t size, off_t offset, fuse_file_info*) {
  if (offset < 0) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  // The text this thread's GETATTR was just shown (a read fetches the size
  // first): the page then matches the size and time the kernel keeps.
  std::string fresh;
  const std::string* text = nullptr;
  if (auto it = shown_.find(ino); it != shown_.end() && it->second.tid == fuse_req_ctx(req)->pid &&
                                  MonotonicMs() - it->second.at_ms < kFileKeepMs) {
    text = &it->second.text;
  } else {
    fresh = RenderFor(req, ino, true).text;
    text = &fresh;
  }
  const uint64_t start = static_cast<uint64_t>(offset);
  if (start >= text->size()) {
    fuse_reply_buf(req, nullptr, 0);
    return;
  }
  fuse_reply_buf(req, text->data() + start, std::min<uint64_t>(size, text->size() - start));
}

}  // namespace ubc
