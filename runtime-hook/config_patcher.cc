#include "runtime-hook/config_patcher.h"

#include <sys/stat.h>

#include "core/container_config.h"
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
  return PatchOciConfig(config_text, settings, *configs, *ubcd, container_id);
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
