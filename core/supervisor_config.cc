#include "core/supervisor_config.h"

#include <exception>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/embedded_schemas.h"
#include "core/file_reader.h"
#include "core/json_depth.h"
#include "core/schema_validator.h"

namespace ubc {
namespace {

using nlohmann::json;

constexpr std::string_view kSchemaName = "ubcd-config.schema.json";
constexpr std::string_view kDefaultName = "ubcd.default.json";

// Created once: the schema is compiled in and a validator is immutable.
Result<std::shared_ptr<const SchemaValidator>> ConfigValidator() {
  static const Result<std::shared_ptr<const SchemaValidator>> validator =
      SchemaValidator::Create(kSchemaName);
  return validator;
}

// Copies every field present in a schema-valid `doc` into `cfg`; absent fields
// keep what `cfg` already holds (the default).
Status ApplyDocument(const json& doc, const std::string& source, SupervisorConfig* cfg) {
  try {
    auto copy_string = [&doc](const char* key, std::string* field) {
      if (auto it = doc.find(key); it != doc.end()) *field = it->get<std::string>();
    };
    copy_string("listener_path", &cfg->listener_path);
    copy_string("status_path", &cfg->status_path);
    copy_string("state_dir", &cfg->state_dir);
    copy_string("proc_dir", &cfg->proc_dir);
    copy_string("containers_dir", &cfg->containers_dir);
    copy_string("log_level", &cfg->log_level);
    if (auto it = doc.find("retire_after_seconds"); it != doc.end()) {
      cfg->retire_after_seconds = it->get<uint32_t>();
    }
    if (auto rest = doc.find("rest"); rest != doc.end()) {
      if (auto it = rest->find("enabled"); it != rest->end()) cfg->rest.enabled = it->get<bool>();
      if (auto it = rest->find("address"); it != rest->end()) {
        cfg->rest.address = it->get<std::string>();
      }
      if (auto it = rest->find("port"); it != rest->end()) cfg->rest.port = it->get<uint16_t>();
      if (auto it = rest->find("token_file"); it != rest->end()) {
        cfg->rest.token_file = it->get<std::string>();
      }
    }
    if (auto defaults = doc.find("defaults"); defaults != doc.end()) {
      if (auto it = defaults->find("shmpages"); it != defaults->end()) {
        Result<BarrierLimit> bl = ParseVzBarrierLimit(it->get<std::string>());
        if (!bl.ok()) return bl.status().Wrap(source + ": /defaults/shmpages");
        cfg->default_shmpages = *bl;
      }
      if (auto it = defaults->find("meminfo"); it != defaults->end()) {
        Result<MeminfoMode> mode = ParseMeminfoMode(it->get<std::string>());
        if (!mode.ok()) return mode.status().Wrap(source + ": /defaults/meminfo");
        cfg->default_meminfo = *mode;
      }
      if (auto it = defaults->find("lockedpages"); it != defaults->end()) {
        Result<BarrierLimit> bl = ParseVzBarrierLimit(it->get<std::string>());
        if (!bl.ok()) return bl.status().Wrap(source + ": /defaults/lockedpages");
        cfg->default_lockedpages = *bl;
      }
      if (auto it = defaults->find("numproc"); it != defaults->end()) {
        Result<BarrierLimit> bl = ParseVzCountBarrierLimit(it->get<std::string>());
        if (!bl.ok()) return bl.status().Wrap(source + ": /defaults/numproc");
        cfg->default_numproc = *bl;
      }
      if (auto it = defaults->find("privvmpages"); it != defaults->end()) {
        Result<BarrierLimit> bl = ParseVzBarrierLimit(it->get<std::string>());
        if (!bl.ok()) return bl.status().Wrap(source + ": /defaults/privvmpages");
        cfg->default_privvmpages = *bl;
      }
      if (auto it = defaults->find("profile"); it != defaults->end()) {
        const std::string name = it->get<std::string>();
        const RuleProfile* profile = FindRuleProfile(name);
        if (profile == nullptr) {
          return Status::Error(source + ": /defaults/profile: unknown profile \"" + name + "\"");
        }
        cfg->default_profile = profile;
      }
      if (auto it = defaults->find("on_error"); it != defaults->end()) {
        std::optional<OnError> on_error = ParseOnError(it->get<std::string>());
        if (!on_error)
          return Status::Error(source + ": /defaults/on_error: must be continue or enomem");
        cfg->default_on_error = *on_error;
      }
    }
  } catch (const std::exception& e) {
    // Unreachable for a schema-valid document; kept so a schema edit that
    // loosens a type cannot turn into an exception.
    return Status::Error(source + ": " + e.what());
  }
  return Status::Ok();
}

Result<SupervisorConfig> ParseAndApply(std::string_view json_text, const std::string& source,
                                       SupervisorConfig base) {
  Result<json> doc = ParseCheckedJson(json_text, source);
  if (!doc.ok()) return doc.status();
  Result<std::shared_ptr<const SchemaValidator>> validator = ConfigValidator();
  if (!validator.ok()) return validator.status();
  if (Status s = (*validator)->Validate(*doc, source); !s.ok()) return s;
  if (Status s = ApplyDocument(*doc, source, &base); !s.ok()) return s;
  // Both are unix sockets ubcd binds; the second bind would unlink the first.
  if (base.listener_path == base.status_path) {
    return Status::Error(source + ": /status_path: must differ from listener_path \"" +
                         base.listener_path + "\"");
  }
  return base;
}

// proc_dir follows state_dir unless it is set.
SupervisorConfig Completed(SupervisorConfig cfg) {
  if (cfg.proc_dir.empty()) cfg.proc_dir = cfg.state_dir + "/proc";
  return cfg;
}

Result<SupervisorConfig> BuiltInDefault() {
  const std::string source = "built-in " + std::string(kDefaultName);
  std::optional<std::string_view> text = EmbeddedFile(kDefaultName);
  if (!text) return Status::Error(source + ": not embedded in this binary");
  Result<SupervisorConfig> cfg = ParseAndApply(*text, source, SupervisorConfig{});
  if (!cfg.ok()) return cfg;
  // Every field must come from the default file, or a user config that omits
  // it would run with an empty path or a zero limit.
  if (cfg->listener_path.empty() || cfg->status_path.empty() || cfg->state_dir.empty() ||
      cfg->containers_dir.empty() || cfg->log_level.empty() || cfg->default_profile == nullptr ||
      cfg->default_privvmpages == BarrierLimit{} || cfg->rest.address.empty() ||
      cfg->rest.port == 0 || cfg->rest.token_file.empty()) {
    return Status::Error(source + ": incomplete: every field must be set");
  }
  return cfg;
}

}  // namespace

Result<SupervisorConfig> DefaultSupervisorConfig() {
  Result<SupervisorConfig> cfg = BuiltInDefault();
  if (!cfg.ok()) return cfg;
  return Completed(std::move(cfg).value());
}

Result<SupervisorConfig> ParseSupervisorConfig(std::string_view json_text,
                                               std::string_view source) {
  Result<SupervisorConfig> defaults = BuiltInDefault();
  if (!defaults.ok()) return defaults;
  Result<SupervisorConfig> cfg =
      ParseAndApply(json_text, std::string(source), std::move(defaults).value());
  if (!cfg.ok()) return cfg;
  return Completed(std::move(cfg).value());
}

Result<SupervisorConfig> LoadSupervisorConfigFile(const std::string& path) {
  Result<std::string> text = ReadConfigFileText(path);
  if (!text.ok()) return text.status();
  return ParseSupervisorConfig(*text, path);
}

Result<std::string> ReadConfigFileText(const std::string& path) {
  // A FIFO or device would block or never end; a config is a regular file.
  return ReadFileBounded(path, kMaxConfigFileBytes);
}

}  // namespace ubc
