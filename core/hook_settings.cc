#include "core/hook_settings.h"

#include <memory>
#include <nlohmann/json.hpp>

#include "core/json_depth.h"
#include "core/schema_validator.h"
#include "core/supervisor_config.h"

namespace ubc {

using nlohmann::json;

Result<HookSettings> ParseHookSettings(std::string_view json_text, std::string_view source) {
  if (Status s = CheckJsonDepth(json_text, source); !s.ok()) return s;
  const json doc = json::parse(json_text, nullptr, false);
  if (doc.is_discarded()) return Status::Error(std::string(source) + ": invalid JSON");

  // Settings are read once per process: no point in caching the validator.
  Result<std::shared_ptr<const SchemaValidator>> validator =
      SchemaValidator::Create("hook-settings.schema.json");
  if (!validator.ok()) return validator.status();
  if (Status s = (*validator)->Validate(doc, source); !s.ok()) return s;

  // The schema has checked every type below, so the accessors cannot throw.
  HookSettings settings;
  if (auto it = doc.find("listener_path"); it != doc.end()) {
    settings.listener_path = it->get<std::string>();
  }
  if (auto it = doc.find("containers_dir"); it != doc.end()) {
    settings.containers_dir = it->get<std::string>();
  }
  if (auto it = doc.find("ubcd_config"); it != doc.end()) {
    settings.ubcd_config = it->get<std::string>();
  }
  if (auto it = doc.find("kernel_bounds"); it != doc.end()) {
    KernelBoundsSettings& bounds = settings.kernel_bounds;
    bounds.enabled = it->value("enabled", bounds.enabled);
    bounds.stack_bytes = it->value("stack_bytes", bounds.stack_bytes);
    bounds.data_floor_bytes = it->value("data_floor_bytes", bounds.data_floor_bytes);
    bounds.memory_cgroup = it->value("memory_cgroup", bounds.memory_cgroup);
    bounds.memory_margin_bytes = it->value("memory_margin_bytes", bounds.memory_margin_bytes);
  }
  if (auto it = doc.find("opt_in"); it != doc.end()) {
    settings.opt_in = it->get<std::string>() == "all" ? OptIn::kAll : OptIn::kAnnotated;
  }
  if (auto it = doc.find("runtime"); it != doc.end()) settings.runtime = it->get<std::string>();
  if (auto it = doc.find("runtime_args"); it != doc.end()) {
    for (const json& arg : *it) settings.runtime_args.push_back(arg.get<std::string>());
  }
  return settings;
}

Result<HookSettings> LoadHookSettings(const std::string& path) {
  Result<std::string> text = ReadConfigFileText(path);
  if (!text.ok()) return text.status();
  return ParseHookSettings(*text, path);
}

}  // namespace ubc
