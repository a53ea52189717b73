#include "supervisor/api_token.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "core/atomic_file.h"
#include "core/file_reader.h"
#include "core/unique_fd.h"

namespace ubc {
namespace {

constexpr size_t kTokenRandomBytes = 32;
constexpr size_t kMaxTokenFileBytes = 4096;

// mkdir -p for the directories above `path`, each 0755 (like /etc).
Status MakeParents(const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    const std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::FromErrno(errno, "creating " + dir);
    }
  }
  return Status::Ok();
}

Result<std::string> RandomHexToken() {
  unsigned char bytes[kTokenRandomBytes];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    const ssize_t n = ::getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "getrandom");
    }
    got += static_cast<size_t>(n);
  }
  std::string hex;
  for (unsigned char b : bytes) {
    char pair[3];
    std::snprintf(pair, sizeof(pair), "%02x", b);
    hex += pair;
  }
  return hex;
}

// Creates the file with a fresh token; EEXIST (a concurrent creator) is
// reported as nullopt-like empty string so the caller reads the winner's file.
Result<std::string> CreateTokenFile(const std::string& path) {
  if (Status s = MakeParents(path); !s.ok()) return s;
  Result<std::string> token = RandomHexToken();
  if (!token.ok()) return token;
  // The mode is exact whatever the umask: 0600 from the first byte.
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) {
    if (errno == EEXIST) return std::string();
    return Status::FromErrno(errno, "creating " + path);
  }
  if (::fchmod(fd.get(), 0600) != 0) return Status::FromErrno(errno, "chmod " + path);
  if (Status s = WriteAll(fd.get(), *token + "\n", path); !s.ok()) {
    ::unlink(path.c_str());
    return s;
  }
  if (::fsync(fd.get()) != 0) return Status::FromErrno(errno, "fsync " + path);
  return token;
}

// Refuses a token file others could have written or can read. Checked on
// the fd that is then read, so the file cannot be swapped in between.
Status CheckTokenFileStat(const std::string& path, const struct stat& st) {
  if (st.st_uid != ::geteuid()) {
    return Status::Error("token file " + path + ": owned by uid " + std::to_string(st.st_uid) +
                         ", not by ubcd's uid " + std::to_string(::geteuid()));
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::Error("token file " + path + ": mode " + mode +
                         " lets group or others read it; chmod 600 it");
  }
  return Status::Ok();
}

Result<std::string> ReadTokenFile(const std::string& path) {
  Result<std::string> read = ReadFileBounded(
      path, kMaxTokenFileBytes,
      {.what = "token file", .follow_symlink = false, .check = [&path](const struct stat& st) {
         return CheckTokenFileStat(path, st);
       }});
  if (!read.ok()) return read.status();
  const std::string& text = *read;
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return Status::Error("token file " + path + ": empty");
  const size_t end = text.find_last_not_of(" \t\r\n");
  std::string token = text.substr(begin, end - begin + 1);
  for (unsigned char c : token) {
    // It travels in an HTTP header: visible ASCII only.
    if (c <= 0x20 || c >= 0x7f) {
      return Status::Error("token file " + path + ": token has blanks or non-ASCII bytes");
    }
  }
  return token;
}

}  // namespace

Result<std::string> LoadOrCreateApiToken(const std::string& path) {
  struct stat st = {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status::FromErrno(errno, "stat " + path);
    Result<std::string> created = CreateTokenFile(path);
    if (!created.ok()) return created;
    if (!created->empty()) return created;
    // Lost a race with another creator: read theirs.
  }
  return ReadTokenFile(path);
}

}  // namespace ubc
