#include "runtime-hook/config_file.h"

#include "core/atomic_file.h"
#include "core/file_reader.h"

namespace ubc {

Result<std::string> ReadConfigFile(const std::string& path) {
  return ReadFileBounded(path, kMaxOciConfigBytes);
}

Status ReplaceConfigFile(const std::string& path, std::string_view contents) {
  return WriteFileAtomically(path, contents, 0644);
}

}  // namespace ubc
