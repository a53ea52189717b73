#include "core/oci_config_patch.h"

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/annotations.h"
#include "core/json_depth.h"
#include "core/kernel_bounds.h"
#include "core/limits_resolver.h"
#include "core/seccomp_profile_merge.h"

namespace ubc {
namespace {

using nlohmann::json;

constexpr char kSource[] = "config.json";

Status ConfigError(const std::string& what) {
  return Status::Error(std::string(kSource) + ": " + what);
}

// Records where a parse failed; json::parse(text, nullptr, false) only says
// that it did.
class ErrorPosition : public nlohmann::json_sax<json> {
 public:
  size_t byte = 0;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string&, const json::exception&) override {
    byte = position;
    return false;
  }
};

Status InvalidJson(std::string_view text) {
  ErrorPosition sax;
  json::sax_parse(text, &sax);
  return ConfigError("invalid JSON at byte " + std::to_string(sax.byte));
}

Result<std::map<std::string, std::string>> ReadAnnotations(const json& doc) {
  std::map<std::string, std::string> annotations;
  auto it = doc.find("annotations");
  if (it == doc.end() || it->is_null()) return annotations;
  if (!it->is_object()) return ConfigError("annotations: not an object");
  for (const auto& [key, value] : it->items()) {
    if (!value.is_string())
      return ConfigError("annotations[" + json(key).dump() + "]: not a string");
    annotations.emplace(key, value.get<std::string>());
  }
  return annotations;
}

// The values of UBC_PRIVVMPAGES / UBC_SHMPAGES / UBC_PROFILE in process.env, as the
// annotations they stand for. The first occurrence counts, as for getenv(3).
Result<std::map<std::string, std::string>> ReadEnvOptIn(const json& doc) {
  std::map<std::string, std::string> out;
  auto process = doc.find("process");
  if (process == doc.end() || !process->is_object()) return out;
  auto env = process->find("env");
  if (env == process->end() || env->is_null()) return out;
  if (!env->is_array()) return ConfigError("process.env: not an array");
  for (size_t i = 0; i < env->size(); ++i) {
    const json& entry = (*env)[i];
    if (!entry.is_string())
      return ConfigError("process.env[" + std::to_string(i) + "]: not a string");
    const std::string& text = entry.get_ref<const std::string&>();
    const size_t eq = text.find('=');
    if (eq == std::string::npos) continue;
    const std::string name = text.substr(0, eq);
    const char* annotation = name == kPrivvmpagesEnv ? kPrivvmpagesAnnotation
                             : name == kShmpagesEnv  ? kShmpagesAnnotation
                             : name == kProfileEnv   ? kProfileAnnotation
                                                     : nullptr;
    if (annotation != nullptr) out.emplace(annotation, text.substr(eq + 1));
  }
  return out;
}

const char* EnvNameOf(const std::string& annotation) {
  return annotation == kPrivvmpagesAnnotation ? kPrivvmpagesEnv
         : annotation == kShmpagesAnnotation  ? kShmpagesEnv
                                              : kProfileEnv;
}

// Appends the proc view's bind mounts (after the config's own, so over its
// /proc); destinations the config already has keep their mount.
Result<std::vector<std::string>> AddProcViewMounts(json& doc, std::string_view dir) {
  json& mounts = doc["mounts"];
  if (mounts.is_null()) mounts = json::array();
  if (!mounts.is_array()) return ConfigError("mounts: not an array");
  std::set<std::string> taken;
  for (size_t i = 0; i < mounts.size(); ++i) {
    const json& m = mounts[i];
    if (!m.is_object()) return ConfigError("mounts[" + std::to_string(i) + "]: not an object");
    if (auto d = m.find("destination"); d != m.end() && d->is_string()) {
      std::string dest = d->get<std::string>();
      while (dest.size() > 1 && dest.back() == '/') dest.pop_back();
      taken.insert(dest);
    }
  }
  std::vector<std::string> added;
  const std::string base(dir);
  for (const auto& [destination, file] :
       {std::pair{kMeminfoDestination, "meminfo"},
        std::pair{kBeancountersDestination, "user_beancounters"}}) {
    if (taken.count(destination)) continue;
    mounts.push_back({{"destination", destination},
                      {"type", "bind"},
                      {"source", base + "/" + file},
                      {"options", {"bind", "ro", "nosuid", "nodev", "noexec"}}});
    added.emplace_back(destination);
  }
  return added;
}

}  // namespace

Result<PatchOutcome> PatchOciConfig(std::string_view config_json_text, const HookSettings& settings,
                                    const std::vector<ContainerConfig>& configs,
                                    const SupervisorConfig& ubcd, std::string_view container_id,
                                    std::string_view proc_view_dir) {
  // Deeper nesting than any OCI config has would only make the parser, the
  // merge's copies and the pretty-printed output recurse without bound.
  if (Status s = CheckJsonDepth(config_json_text, "config.json"); !s.ok()) return s;
  json doc = json::parse(config_json_text, nullptr, false);
  if (doc.is_discarded()) return InvalidJson(config_json_text);
  if (!doc.is_object()) return ConfigError("not a JSON object");

  Result<std::map<std::string, std::string>> annotations = ReadAnnotations(doc);
  if (!annotations.ok()) return annotations.status();
  Result<UbcAnnotations> ubc = ParseUbcAnnotations(*annotations);
  if (!ubc.ok()) return ubc.status().Wrap(kSource);

  Result<std::map<std::string, std::string>> env = ReadEnvOptIn(doc);
  if (!env.ok()) return env.status();
  std::map<std::string, std::string> from_env;  // only those no annotation overrides
  for (const auto& [annotation, value] : *env) {
    if (annotations->count(annotation)) continue;
    Result<UbcAnnotations> parsed = ParseUbcAnnotations({{annotation, value}});
    if (!parsed.ok()) {
      // "annotation ubc.privvmpages=..." -> "process.env UBC_PRIVVMPAGES=...":
      // name what the user actually wrote.
      std::string message = parsed.status().message();
      const std::string written_as = "annotation " + annotation;
      if (message.rfind(written_as, 0) == 0) message.erase(0, written_as.size());
      return ConfigError("process.env " + std::string(EnvNameOf(annotation)) + message);
    }
    from_env.emplace(annotation, value);
  }

  PatchOutcome outcome;
  const ContainerConfig* match =
      MatchContainerConfig(configs, container_id, ContainerNameFromAnnotations(*annotations));
  if (ubc->any()) {
    outcome.opted_in_by = "annotation";
  } else if (!from_env.empty()) {
    outcome.opted_in_by = "environment";
  } else if (match != nullptr) {
    outcome.opted_in_by = "containers.d file " + match->source_path;
  } else if (settings.opt_in == OptIn::kAll) {
    outcome.opted_in_by = "opt_in all";
  } else {
    outcome.output_text = std::string(config_json_text);
    return outcome;
  }

  // Only now is "linux" required: a config nobody opted in is never judged.
  auto linux_it = doc.find("linux");
  if (linux_it == doc.end()) return ConfigError("linux: missing (not a Linux container)");
  if (!linux_it->is_object()) return ConfigError("linux: not an object");
  auto seccomp_it = linux_it->find("seccomp");
  const json* existing = seccomp_it == linux_it->end() ? nullptr : &*seccomp_it;

  // The limit ubcd will give the container (the same resolution, from the
  // same containers.d and defaults) bounds what the kernel grows unasked.
  std::map<std::string, std::string> effective = *annotations;
  effective.insert(from_env.begin(), from_env.end());
  Result<UbcAnnotations> effective_ubc = ParseUbcAnnotations(effective);
  if (!effective_ubc.ok()) return effective_ubc.status().Wrap(kSource);  // checked above
  const ResolvedLimits limits = ResolveLimits(*effective_ubc, match, ubcd);

  // A finite numproc: where the runtime gives the container no pids cgroup
  // (crun with cgroups disabled) ubcd counts the tasks, so it must see
  // every clone. Where it has one, ubcd lets them through at once.
  MergeOptions merge_options;
  merge_options.trap_task_creation = limits.numproc.limit_pages != kUnlimitedPages ||
                                     limits.numproc.barrier_pages != kUnlimitedPages;
  merge_options.trap_sysinfo = limits.meminfo.kind != MeminfoMode::Kind::kNone;
  Result<json> merged = MergeUbcNotifyRules(existing, settings.listener_path, merge_options);
  if (!merged.ok()) return merged.status().Wrap(kSource);
  (*linux_it)["seccomp"] = std::move(*merged);
  outcome.bounds =
      KernelBoundsFor(limits.privvmpages, limits.shmpages, settings.kernel_bounds, limits.numproc);
  if (Status s = ApplyKernelBounds(doc, outcome.bounds); !s.ok()) return s.Wrap(kSource);

  if (!proc_view_dir.empty() && limits.meminfo.kind != MeminfoMode::Kind::kNone) {
    Result<std::vector<std::string>> added = AddProcViewMounts(doc, proc_view_dir);
    if (!added.ok()) return added.status();
    outcome.view_mounts = std::move(added).value();
  }

  if (!from_env.empty()) {
    json& out_annotations = doc["annotations"];
    if (out_annotations.is_null()) out_annotations = json::object();
    for (const auto& [annotation, value] : from_env) out_annotations[annotation] = value;
  }

  try {
    outcome.output_text = doc.dump(2) + "\n";
  } catch (const json::exception& e) {  // invalid UTF-8 in a string
    return ConfigError(std::string("cannot write the patched config: ") + e.what());
  }
  outcome.patched = true;
  return outcome;
}

}  // namespace ubc
