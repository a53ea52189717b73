#include "supervisor/privileges.h"

#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ubc {
namespace {

std::string Parent(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Status CheckOne(const std::string& path, bool allow_sticky) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status::Error(path + ": " + std::strerror(errno));
  }
  const bool writable_by_others = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
  if (st.st_uid != 0) return Status::Error(path + " is not owned by root");
  if (writable_by_others && !(allow_sticky && (st.st_mode & S_ISVTX))) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::Error(path + " is writable by group or others (mode " + mode +
                         "); refusing to trust it");
  }
  return Status::Ok();
}

}  // namespace

Status CheckOnlyRootCanWrite(const std::string& path) {
  if (Status s = CheckOne(path, false); !s.ok()) return s;
  return CheckOne(Parent(path), true);
}

Status CheckSocketDirectory(const std::string& socket_path) {
  const std::string dir = Parent(socket_path);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return Status::Ok();  // ubcd creates it, 0700
  return CheckOne(dir, true);
}

Status DropPrivileges(bool keep_ptrace) {
  const cap_value_t kept[] = {CAP_SYS_PTRACE, CAP_KILL};
  for (cap_value_t c = 0; c <= CAP_LAST_CAP; ++c) {
    if (keep_ptrace && (c == kept[0] || c == kept[1])) continue;
    if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL) {
      return Status::Error(std::string("dropping capability from the bounding set: ") +
                           std::strerror(errno));
    }
  }
  cap_t caps = cap_init();
  if (caps == nullptr) return Status::Error("cap_init failed");
  Status result = Status::Ok();
  const int n = keep_ptrace ? 2 : 0;
  if ((n > 0 && (cap_set_flag(caps, CAP_PERMITTED, n, kept, CAP_SET) != 0 ||
                 cap_set_flag(caps, CAP_EFFECTIVE, n, kept, CAP_SET) != 0)) ||
      cap_set_proc(caps) != 0) {
    result = Status::Error(std::string("setting capabilities: ") + std::strerror(errno));
  }
  cap_free(caps);
  if (!result.ok()) return result;
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return Status::Error(std::string("no_new_privs: ") + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace ubc
