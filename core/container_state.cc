#include "core/container_state.h"

#include <climits>
#include <exception>
#include <nlohmann/json.hpp>

#include "core/json_depth.h"

namespace ubc {
namespace {

using nlohmann::json;

constexpr std::string_view kContext = "container process state: ";

Status FieldError(std::string_view field, std::string_view what) {
  return Status::Error(std::string(kContext) + std::string(field) + ": " + std::string(what));
}

// A key or value quoted with JSON escapes and capped, so a hostile or broken
// message cannot put control characters or megabytes into a log line.
std::string Quote(std::string_view text) {
  constexpr size_t kMaxShownBytes = 64;
  std::string quoted = json(std::string(text.substr(0, kMaxShownBytes)))
                           .dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kMaxShownBytes) quoted += "...";
  return quoted;
}

// Optional string member: absent leaves `out` untouched.
Status GetOptionalString(const json& object, const char* key, std::string_view field,
                         std::string* out) {
  auto it = object.find(key);
  if (it == object.end()) return Status::Ok();
  if (!it->is_string()) return FieldError(field, "must be a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

// Optional pid: a non-negative integer that fits a pid_t (crun sends 0 for exec).
Status GetOptionalPid(const json& object, const char* key, std::string_view field, int* out) {
  auto it = object.find(key);
  if (it == object.end()) return Status::Ok();
  if (!it->is_number_integer()) return FieldError(field, "must be an integer");
  if (it->is_number_unsigned() ? it->get<uint64_t>() > static_cast<uint64_t>(INT_MAX)
                               : (it->get<int64_t>() < 0 || it->get<int64_t>() > INT_MAX)) {
    return FieldError(field, "out of range: " + it->dump());
  }
  *out = it->get<int>();
  return Status::Ok();
}

Status CheckContainerId(const std::string& id) {
  if (id.empty()) return FieldError("state.id", "must not be empty");
  if (id.size() > kMaxContainerIdBytes) {
    return FieldError("state.id", "longer than " + std::to_string(kMaxContainerIdBytes) + " bytes");
  }
  // The id becomes a file name under the state dir and a log field.
  if (id == "." || id == "..") return FieldError("state.id", "invalid id " + Quote(id));
  for (char c : id) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '/') return FieldError("state.id", "contains '/': " + Quote(id));
    if (u < 0x20 || u == 0x7f) {
      return FieldError("state.id", "contains a control character: " + Quote(id));
    }
  }
  return Status::Ok();
}

Result<ContainerProcessState> FromJson(const json& doc) {
  if (!doc.is_object()) return Status::Error(std::string(kContext) + "not a JSON object");
  ContainerProcessState out;

  auto fds = doc.find("fds");
  if (fds == doc.end()) return FieldError("fds", "missing");
  if (!fds->is_array()) return FieldError("fds", "must be an array of strings");
  size_t seccomp_fds = 0;
  for (const json& name : *fds) {
    if (!name.is_string()) return FieldError("fds", "must be an array of strings");
    out.fds.push_back(name.get<std::string>());
    if (out.fds.back() == kSeccompFdName) ++seccomp_fds;
  }
  if (seccomp_fds != 1) {
    return FieldError("fds",
                      "must name \"seccompFd\" exactly once, found " + std::to_string(seccomp_fds));
  }

  if (Status s = GetOptionalString(doc, "ociVersion", "ociVersion", &out.oci_version); !s.ok()) {
    return s;
  }
  if (Status s = GetOptionalPid(doc, "pid", "pid", &out.pid); !s.ok()) return s;
  if (Status s = GetOptionalString(doc, "metadata", "metadata", &out.metadata); !s.ok()) return s;

  auto state = doc.find("state");
  if (state == doc.end()) return FieldError("state", "missing");
  if (!state->is_object()) return FieldError("state", "must be an object");

  auto id = state->find("id");
  if (id == state->end()) return FieldError("state.id", "missing");
  if (!id->is_string()) return FieldError("state.id", "must be a string");
  out.id = id->get<std::string>();
  if (Status s = CheckContainerId(out.id); !s.ok()) return s;

  auto status = state->find("status");
  if (status == state->end()) return FieldError("state.status", "missing");
  if (!status->is_string()) return FieldError("state.status", "must be a string");
  out.status = status->get<std::string>();

  if (Status s =
          GetOptionalString(*state, "ociVersion", "state.ociVersion", &out.state_oci_version);
      !s.ok()) {
    return s;
  }
  if (Status s = GetOptionalString(*state, "bundle", "state.bundle", &out.bundle); !s.ok()) {
    return s;
  }
  if (Status s = GetOptionalPid(*state, "pid", "state.pid", &out.state_pid); !s.ok()) return s;

  if (auto annotations = state->find("annotations"); annotations != state->end()) {
    // runc omits the member without annotations; null is treated the same.
    if (!annotations->is_null()) {
      if (!annotations->is_object()) {
        return FieldError("state.annotations", "must be an object of strings");
      }
      for (const auto& [key, value] : annotations->items()) {
        if (!value.is_string()) {
          return FieldError("state.annotations[" + Quote(key) + "]", "must be a string");
        }
        out.annotations.emplace(key, value.get<std::string>());
      }
    }
  }
  return out;
}

}  // namespace

std::optional<size_t> ContainerProcessState::SeccompFdIndex() const {
  for (size_t i = 0; i < fds.size(); ++i) {
    if (fds[i] == kSeccompFdName) return i;
  }
  return std::nullopt;
}

Result<ContainerProcessState> ParseContainerProcessState(std::string_view json_text) {
  Result<json> parsed = ParseCheckedJson(json_text, "container process state");
  if (!parsed.ok()) return parsed.status();
  const json& doc = *parsed;
  try {
    return FromJson(doc);
  } catch (const std::exception& e) {
    // Unreachable: every access above checks the type first. Kept so a later
    // edit cannot let an exception escape into the supervisor.
    return Status::Error(std::string(kContext) + e.what());
  }
}

}  // namespace ubc
