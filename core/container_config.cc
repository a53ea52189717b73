#include "core/container_config.h"

#include <dirent.h>
#include <fnmatch.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/json_depth.h"
#include "core/schema_validator.h"
#include "core/supervisor_config.h"

namespace ubc {
namespace {

using nlohmann::json;

constexpr std::string_view kSchemaName = "container-config.schema.json";

Result<std::shared_ptr<const SchemaValidator>> ContainerValidator() {
  static const Result<std::shared_ptr<const SchemaValidator>> validator =
      SchemaValidator::Create(kSchemaName);
  return validator;
}

bool GlobMatches(const std::vector<std::string>& patterns, std::string_view text) {
  const std::string subject(text);  // fnmatch wants a NUL-terminated string
  for (const std::string& pattern : patterns) {
    if (::fnmatch(pattern.c_str(), subject.c_str(), 0) == 0) return true;
  }
  return false;
}

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

}  // namespace

Result<ContainerConfig> ParseContainerConfig(std::string_view json_text,
                                             std::string_view source_path) {
  const std::string source(source_path);
  Result<json> doc = ParseCheckedJson(json_text, source);
  if (!doc.ok()) return doc.status();
  Result<std::shared_ptr<const SchemaValidator>> validator = ContainerValidator();
  if (!validator.ok()) return validator.status();
  if (Status s = (*validator)->Validate(*doc, source); !s.ok()) return s;

  ContainerConfig cfg;
  cfg.source_path = source;
  try {
    const json& match = doc->at("match");
    if (auto it = match.find("ids"); it != match.end()) {
      cfg.id_patterns = it->get<std::vector<std::string>>();
    }
    if (auto it = match.find("names"); it != match.end()) {
      cfg.name_patterns = it->get<std::vector<std::string>>();
    }
    if (auto it = doc->find("shmpages"); it != doc->end()) {
      Result<BarrierLimit> bl = ParseVzBarrierLimit(it->get<std::string>());
      if (!bl.ok()) return bl.status().Wrap(source + ": /shmpages");
      cfg.shmpages = *bl;
    }
    if (auto it = doc->find("meminfo"); it != doc->end()) {
      Result<MeminfoMode> mode = ParseMeminfoMode(it->get<std::string>());
      if (!mode.ok()) return mode.status().Wrap(source + ": /meminfo");
      cfg.meminfo = *mode;
    }
    if (auto it = doc->find("lockedpages"); it != doc->end()) {
      Result<BarrierLimit> bl = ParseVzBarrierLimit(it->get<std::string>());
      if (!bl.ok()) return bl.status().Wrap(source + ": /lockedpages");
      cfg.lockedpages = *bl;
    }
    if (auto it = doc->find("numproc"); it != doc->end()) {
      // Tasks: integers and "unlimited" only (the schema says so too).
      Result<BarrierLimit> bl = ParseVzCountBarrierLimit(it->get<std::string>());
      if (!bl.ok()) return bl.status().Wrap(source + ": /numproc");
      cfg.numproc = *bl;
    }
    if (auto it = doc->find("privvmpages"); it != doc->end()) {
      Result<BarrierLimit> bl = ParseVzBarrierLimit(it->get<std::string>());
      if (!bl.ok()) return bl.status().Wrap(source + ": /privvmpages");
      cfg.privvmpages = *bl;
    }
    if (auto it = doc->find("profile"); it != doc->end()) {
      const std::string name = it->get<std::string>();
      cfg.profile = FindRuleProfile(name);
      if (cfg.profile == nullptr) {
        return Status::Error(source + ": /profile: unknown profile \"" + name + "\"");
      }
    }
    if (auto it = doc->find("on_error"); it != doc->end()) {
      cfg.on_error = ParseOnError(it->get<std::string>());
      if (!cfg.on_error) return Status::Error(source + ": /on_error: must be continue or enomem");
    }
  } catch (const std::exception& e) {
    // Unreachable for a schema-valid document; guards against a loosened schema.
    return Status::Error(source + ": " + e.what());
  }
  // The schema says the same; checked here too because a file that matches
  // nothing is certainly not what its author meant.
  if (cfg.id_patterns.empty() && cfg.name_patterns.empty()) {
    return Status::Error(source + ": /match: needs at least one of ids, names");
  }
  return cfg;
}

Result<std::vector<ContainerConfig>> LoadContainerConfigDir(const std::string& dir) {
  std::unique_ptr<DIR, DirCloser> d(::opendir(dir.c_str()));
  if (!d) {
    if (errno == ENOENT) return std::vector<ContainerConfig>{};
    return Status::Error("reading " + dir + ": " + std::strerror(errno));
  }
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(d.get());
    if (entry == nullptr) {
      if (errno != 0) return Status::Error("reading " + dir + ": " + std::strerror(errno));
      break;
    }
    const std::string_view name = entry->d_name;
    if (name.empty() || name.front() == '.') continue;
    constexpr std::string_view kSuffix = ".json";
    if (name.size() <= kSuffix.size() || name.substr(name.size() - kSuffix.size()) != kSuffix) {
      continue;
    }
    names.emplace_back(name);
  }
  std::sort(names.begin(), names.end());

  const std::string prefix = dir.empty() || dir.back() == '/' ? dir : dir + "/";
  std::vector<ContainerConfig> configs;
  configs.reserve(names.size());
  for (const std::string& name : names) {
    const std::string path = prefix + name;
    Result<std::string> text = ReadConfigFileText(path);
    if (!text.ok()) return text.status();
    Result<ContainerConfig> cfg = ParseContainerConfig(*text, path);
    if (!cfg.ok()) return cfg.status();
    configs.push_back(std::move(cfg).value());
  }
  return configs;
}

const ContainerConfig* MatchContainerConfig(const std::vector<ContainerConfig>& configs,
                                            std::string_view id, std::string_view name) {
  for (const ContainerConfig& cfg : configs) {
    if (GlobMatches(cfg.id_patterns, id)) return &cfg;
    if (!name.empty() && GlobMatches(cfg.name_patterns, name)) return &cfg;
  }
  return nullptr;
}

std::string ContainerNameFromAnnotations(const std::map<std::string, std::string>& annotations) {
  static constexpr const char* kNameKeys[] = {
      "io.kubernetes.cri.container-name",
      "io.kubernetes.container.name",
      "nerdctl/name",
      "io.podman.annotations.name",
  };
  for (const char* key : kNameKeys) {
    if (auto it = annotations.find(key); it != annotations.end() && !it->second.empty()) {
      return it->second;
    }
  }
  return "";
}

}  // namespace ubc
