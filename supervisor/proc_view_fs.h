// ProcViewFs: the FUSE file system that shows each container its own
// /proc/meminfo and /proc/user_beancounters (docs/accounting.md, "What the
// container sees"), the way lxcfs shows cgroup views.
//
// ubcd mounts one instance ("fuse.ubc") at the config's proc_dir, holding
// `meminfo` and `user_beancounters`, and the same two files under any
// directory name (a token, [A-Za-z0-9._-]{1,64}): ubc-hook bind-mounts a
// token's files read-only into each container, a token of its own, so no
// two containers share an inode or its page cache. A file's size is its
// text's for the caller, kept by the kernel for 1 s where the caller is in a
// container (an open then costs no GETATTR round trip). Every open renders the
// file for the opening thread (FUSE names it by its host tid) through the
// `render` callback and keeps that text for the open file's reads, as procfs'
// seq files do; opens past kMaxSnapshotFiles render per read instead, so
// memory stays bounded however many readers there are. Writes and opens for
// writing get EACCES.
//
// The /dev/fuse fd outlives ubcd in the fd store: a restarted ubcd takes it
// over (Start with `recovered`), tells libfuse the connection is already
// initialised and asks the kernel (Linux 6.9+) to resend the requests the
// previous ubcd had read but not answered. Meanwhile readers wait.
//
// One thread serves the session; Start() and Stop() are called by the owner
// only; open_files() is thread-safe.
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
struct ProcViewContent {
  std::string text;
  bool container = false;
};
// `reading`: for an open or read; false: only for the size (a stat).
using ProcViewRender = std::function<ProcViewContent(ProcViewFile file, pid_t tid, bool reading)>;

inline constexpr size_t kMaxSnapshotFiles = 16384;

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
  size_t open_files() const { return open_files_.load(); }

  // libfuse's callbacks (C linkage needs them public); not for other callers.
  void Lookup(fuse_req* req, uint64_t parent, const char* name);
  void Getattr(fuse_req* req, uint64_t ino);
  void Open(fuse_req* req, uint64_t ino, fuse_file_info* fi);
  void Read(fuse_req* req, uint64_t ino, size_t size, off_t offset, fuse_file_info* fi);
  void Release(fuse_req* req, fuse_file_info* fi);

 private:
  explicit ProcViewFs(ProcViewRender render);
  void Run();
  ProcViewContent RenderFor(fuse_req* req, uint64_t ino, bool reading);

  const ProcViewRender render_;
  fuse_session* session_ = nullptr;
  std::thread thread_;
  pthread_t thread_native_{};
  std::atomic<bool> stopping_{false};
  // Snapshots by file handle; only the session thread touches them. Handles
  // start at a random base so one issued by a previous ubcd is never taken
  // for one of ours (it is rendered afresh instead).
  std::unordered_map<uint64_t, std::string> texts_;
  uint64_t next_fh_ = 1;
  std::atomic<size_t> open_files_{0};
  bool stopped_ = false;
};

}  // namespace ubc
