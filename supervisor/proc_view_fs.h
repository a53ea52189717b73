// ProcViewFs: the FUSE file system that shows each container its own
// /proc/meminfo and /proc/user_beancounters (docs/accounting.md, "What the
// container sees"), the way lxcfs shows cgroup views.
//
// ubcd mounts one instance ("fuse.ubc") at the config's proc_dir, holding
// `meminfo` and `user_beancounters`, and the same two files under any
// directory name (a token, [A-Za-z0-9._-]{1,64}): ubc-hook bind-mounts a
// token's files read-only into each container, a token of its own, so no
// two containers share an inode or its page cache.
//
// Reads come from the kernel's page cache: ubcd answers no OPEN (ENOSYS,
// after which the kernel sends none), so an open, a read and a close of a
// file the kernel holds cost no request. What a container reader was shown
// (size, and a time that is a hash of the text) is kept kFileKeepS (10 ms);
// after it the next read asks again (GETATTR), and a text that changed
// changes the time, which makes the kernel drop the cached page and read it
// afresh (FUSE_AUTO_INVAL_DATA). So a container's view is at most 10 ms old,
// one page is one render (the texts are smaller than a page), and however
// often a container reads, ubcd answers a GETATTR per reader that finds the
// file expired and one READ per change, not three requests per read. What
// anyone else is shown (the runtime's stat as it binds the file, a host
// reader: the host's text) is not kept. The mount is read-only: opens for
// writing and truncation get EROFS.
//
// The /dev/fuse fd outlives ubcd in the fd store: a restarted ubcd takes it
// over (Start with `recovered`), tells libfuse the connection is already
// initialised and asks the kernel (Linux 6.9+) to resend the requests the
// previous ubcd had read but not answered. Meanwhile readers wait.
//
// One thread serves the session; Start() and Stop() are called by the owner
// only.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>

#include "core/meminfo_view.h"
#include "core/status.h"
#include "core/unique_fd.h"

struct fuse_session;
struct fuse_req;
struct fuse_file_info;

namespace ubc {

enum class ProcViewFile { kMeminfo, kUserBeancounters };
// What a file shows one caller. `container`: the caller is in a container,
// whose text keeps its length from read to read (fixed-width fields, a fixed
// set of rows), so the kernel may keep the file's size for a while. The size
// shown to anyone else (the runtime's stat as it binds the file, a host
// reader) is not kept: the container's next read through the page cache
// (sendfile) would stop at it.
// (Through the page cache, the size kept is where a container's reads stop.)
struct ProcViewContent {
  std::string text;
  bool container = false;
};
// `reading`: for an open or read; false: only for the size (a stat).
using ProcViewRender = std::function<ProcViewContent(ProcViewFile file, pid_t tid, bool reading)>;

// Texts kept for the READ that follows a GETATTR, one per file.
inline constexpr size_t kMaxShownFiles = 16384;

// Mounts a fresh view at `dir` (created if missing; a stale view or a dead
// FUSE mount there is detached first) and returns its /dev/fuse fd. Needs
// CAP_SYS_ADMIN. When ubcd's mount namespace is not that of the process that
// started it (systemd's PID 1, for a unit with ProtectSystem=), the mount is
// made there, where the runtimes are, by a child that joins it
// (CAP_SYS_CHROOT too); ubcd must have one thread then.
Result<UniqueFd> MountProcView(const std::string& dir);
// True when `dir` is a ubc view mount point, by /proc/self/mountinfo alone
// (a stat of a FUSE mount nobody serves would block).
bool IsProcViewMount(const std::string& dir);
// True when `fd` is open on /dev/fuse.
bool IsFuseConnection(int fd);

class ProcViewFs {
 public:
  // Serves the connection on `fuse_fd`. `recovered`: it was initialised by a
  // previous server (an fd from the fd store).
  static Result<std::unique_ptr<ProcViewFs>> Start(UniqueFd fuse_fd, bool recovered,
                                                   ProcViewRender render);
  ~ProcViewFs();
  ProcViewFs(const ProcViewFs&) = delete;
  ProcViewFs& operator=(const ProcViewFs&) = delete;

  // Stops serving; the mount stays (requests wait for the next server while
  // the fd store holds the connection).
  void Stop();
  // Requests answered so far (thread-safe).
  uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }

  // libfuse's callbacks (C linkage needs them public); not for other callers.
  void Lookup(fuse_req* req, uint64_t parent, const char* name);
  void Getattr(fuse_req* req, uint64_t ino);
  void Open(fuse_req* req, uint64_t ino, fuse_file_info* fi);
  void Read(fuse_req* req, uint64_t ino, size_t size, off_t offset, fuse_file_info* fi);

 private:
  explicit ProcViewFs(ProcViewRender render);
  void Run();
  ProcViewContent RenderFor(fuse_req* req, uint64_t ino, bool reading);
  // The text a GETATTR or LOOKUP of `ino` answers from (none for a
  // directory); a container reader's is kept for the READ the same thread
  // sends next, so that the page matches the size and time the kernel keeps.
  ProcViewContent RenderShown(fuse_req* req, uint64_t ino);

  const ProcViewRender render_;
  fuse_session* session_ = nullptr;
  std::thread thread_;
  pthread_t thread_native_{};
  std::atomic<bool> stopping_{false};
  // The last text a container reader's GETATTR or LOOKUP was answered from,
  // by inode; only the session thread touches it.
  struct Shown {
    pid_t tid = 0;
    int64_t at_ms = 0;
    std::string text;
  };
  std::unordered_map<uint64_t, Shown> shown_;
  std::atomic<uint64_t> requests_{0};
  bool stopped_ = false;
};

}  // namespace ubc
