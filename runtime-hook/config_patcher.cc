#include "runtime-hook/config_patcher.h"

#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "core/container_config.h"
#include "core/file_reader.h"
#include "core/meminfo_view.h"
#include "core/proc_text.h"
#include "core/supervisor_config.h"
#include "runtime-hook/config_file.h"

namespace ubc {

Result<HookSettings> LoadFirstExistingSettings(const std::vector<std::string>& candidates) {
  for (const std::string& path : candidates) {
    struct stat st = {};
    if (::stat(path.c_str(), &st) == 0) return LoadHookSettings(path);
  }
  return HookSettings{};
}

std::string ProcViewToken(std::string_view container_id) {
  const bool usable =
      !container_id.empty() && container_id.size() <= 64 && container_id != "." &&
      container_id != ".." && std::all_of(container_id.begin(), container_id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      });
  if (usable) return std::string(container_id);
  // No id (podman's precreate hook) or one the view does not accept: any
  // name of the container's own does.
  uint8_t bytes[16] = {};
  if (::getrandom(bytes, sizeof(bytes), 0) != static_cast<ssize_t>(sizeof(bytes))) {
    const uint64_t now = static_cast<uint64_t>(::time(nullptr)) ^ static_cast<uint64_t>(::getpid());
    std::memcpy(bytes, &now, sizeof(now));
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token = "ct-";
  for (uint8_t b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 15];
  }
  return token;
}

std::string LiveProcViewDir(const std::string& dir) {
  // By mountinfo first: a stat of a FUSE mount nobody serves would block.
  const std::filesystem::path path(dir);
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::weakly_canonical(path.parent_path(), ec);
  if (ec) return "";
  const std::string mount_point = (parent / path.filename()).string();
  Result<std::string> mountinfo = ReadFileBounded("/proc/self/mountinfo", 16 << 20);
  if (!mountinfo.ok() || FsTypeAt(*mountinfo, mount_point) != kProcViewFsType) return "";
  // A view whose server and fd store both died answers ENOTCONN: the
  // runtime could not bind it, so the container goes without.
  struct stat st = {};
  if (::stat((mount_point + "/meminfo").c_str(), &st) != 0) return "";
  return mount_point;
}

Result<PatchOutcome> PatchConfigText(std::string_view config_text, const HookSettings& settings,
                                     std::string_view container_id) {
  // A broken containers.d file fails the container rather than silently
  // running it without the limits the file was meant to give it.
  Result<std::vector<ContainerConfig>> configs = LoadContainerConfigDir(settings.containers_dir);
  if (!configs.ok()) return configs.status();
  // Likewise ubcd's config: its defaults are the limits the kernel bounds come from.
  Result<SupervisorConfig> ubcd = settings.ubcd_config.empty()
                                      ? DefaultSupervisorConfig()
                                      : LoadSupervisorConfigFile(settings.ubcd_config);
  if (!ubcd.ok()) return ubcd.status();
  std::string view = LiveProcViewDir(ubcd->proc_dir);
  if (!view.empty()) view += "/" + ProcViewToken(container_id);
  return PatchOciConfig(config_text, settings, *configs, *ubcd, container_id, view);
}

Result<PatchOutcome> PatchConfigFileInPlace(const std::string& path, const HookSettings& settings,
                                            std::string_view container_id) {
  Result<std::string> text = ReadConfigFile(path);
  if (!text.ok()) return text.status();
  Result<PatchOutcome> outcome = PatchConfigText(*text, settings, container_id);
  if (!outcome.ok()) {
    // Core names the file "config.json"; here the real path is known.
    std::string message = outcome.status().message();
    constexpr std::string_view kGeneric = "config.json: ";
    if (message.rfind(kGeneric, 0) == 0) message.erase(0, kGeneric.size());
    return Status::Error(path + ": " + message);
  }
  if (outcome->patched && outcome->output_text != *text) {
    if (Status s = ReplaceConfigFile(path, outcome->output_text); !s.ok()) return s;
  }
  return outcome;
}

}  // namespace ubc
