#include "core/kernel_bounds.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <utility>
#include <vector>

#include "core/units.h"

namespace ubc {
namespace {

using nlohmann::json;

// OCI's memory limit is an int64; beyond it a bound means nothing.
constexpr uint64_t kMaxBoundBytes = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

std::optional<uint64_t> PagesToBytes(uint64_t pages) {
  if (pages >= kUnlimitedPages || pages > kMaxBoundBytes / kPageBytes) return std::nullopt;
  return pages * kPageBytes;
}

Status FieldError(const std::string& field, const std::string& what) {
  return Status::Error(field + ": " + what);
}

// A JSON unsigned integer (what OCI's uint64 fields hold).
bool AsUnsigned(const json& value, uint64_t* out) {
  if (value.is_number_unsigned()) {
    *out = value.get<uint64_t>();
    return true;
  }
  if (value.is_number_integer() && value.get<int64_t>() >= 0) {
    *out = static_cast<uint64_t>(value.get<int64_t>());
    return true;
  }
  return false;
}

// Lowers (or adds) one rlimit in process.rlimits.
Status BoundRlimit(json& rlimits, const char* type, uint64_t bound_bytes) {
  for (size_t i = 0; i < rlimits.size(); ++i) {
    json& entry = rlimits[i];
    const std::string field = "process.rlimits[" + std::to_string(i) + "]";
    if (!entry.is_object()) return FieldError(field, "not an object");
    auto type_it = entry.find("type");
    if (type_it == entry.end() || !type_it->is_string())
      return FieldError(field + ".type", "missing or not a string");
    if (type_it->get_ref<const std::string&>() != type) continue;
    uint64_t hard = 0;
    uint64_t soft = 0;
    auto hard_it = entry.find("hard");
    auto soft_it = entry.find("soft");
    if (hard_it == entry.end() || !AsUnsigned(*hard_it, &hard))
      return FieldError(field + ".hard", "missing or not a non-negative integer");
    if (soft_it == entry.end() || !AsUnsigned(*soft_it, &soft))
      return FieldError(field + ".soft", "missing or not a non-negative integer");
    hard = std::min(hard, bound_bytes);
    entry["hard"] = hard;
    entry["soft"] = std::min(soft, hard);
    return Status::Ok();
  }
  rlimits.push_back({{"type", type}, {"hard", bound_bytes}, {"soft", bound_bytes}});
  return Status::Ok();
}

Status BoundRlimits(json& doc, const KernelBounds& bounds) {
  if (!bounds.data_bytes && !bounds.stack_bytes) return Status::Ok();
  auto process = doc.find("process");
  if (process == doc.end() || process->is_null()) return Status::Ok();  // nothing runs
  if (!process->is_object()) return FieldError("process", "not an object");
  json& rlimits = (*process)["rlimits"];
  if (rlimits.is_null()) rlimits = json::array();
  if (!rlimits.is_array()) return FieldError("process.rlimits", "not an array");
  if (bounds.data_bytes) {
    if (Status s = BoundRlimit(rlimits, "RLIMIT_DATA", *bounds.data_bytes); !s.ok()) return s;
  }
  if (bounds.stack_bytes) {
    if (Status s = BoundRlimit(rlimits, "RLIMIT_STACK", *bounds.stack_bytes); !s.ok()) return s;
  }
  return Status::Ok();
}

// The size a tmpfs's options give it (the last size= or nr_blocks= wins, as
// in the kernel's parser); nullopt: unbounded, or not known here.
std::optional<uint64_t> TmpfsSizeOf(const std::vector<std::string>& options) {
  std::optional<uint64_t> size;
  for (const std::string& option : options) {
    if (option.rfind("size=", 0) == 0) {
      size = ParseTmpfsSizeBytes(std::string_view(option).substr(5));
    } else if (option.rfind("nr_blocks=", 0) == 0) {
      std::optional<uint64_t> blocks = ParseTmpfsSizeBytes(std::string_view(option).substr(10));
      size = blocks && *blocks <= kMaxBoundBytes / kPageBytes
                 ? std::optional<uint64_t>(*blocks * kPageBytes)
                 : std::nullopt;
    }
  }
  // size=0 is "unlimited" to tmpfs.
  if (size && *size == 0) return std::nullopt;
  return size;
}

Status BoundTmpfsMounts(json& doc, uint64_t bound_bytes) {
  auto mounts = doc.find("mounts");
  if (mounts == doc.end() || mounts->is_null()) return Status::Ok();
  if (!mounts->is_array()) return FieldError("mounts", "not an array");
  for (size_t i = 0; i < mounts->size(); ++i) {
    json& mount = (*mounts)[i];
    const std::string field = "mounts[" + std::to_string(i) + "]";
    if (!mount.is_object()) return FieldError(field, "not an object");
    auto type = mount.find("type");
    if (type == mount.end() || !type->is_string() ||
        type->get_ref<const std::string&>() != "tmpfs") {
      continue;
    }
    std::vector<std::string> options;
    auto options_it = mount.find("options");
    if (options_it != mount.end() && !options_it->is_null()) {
      if (!options_it->is_array()) return FieldError(field + ".options", "not an array");
      for (size_t j = 0; j < options_it->size(); ++j) {
        const json& option = (*options_it)[j];
        if (!option.is_string())
          return FieldError(field + ".options[" + std::to_string(j) + "]", "not a string");
        options.push_back(option.get<std::string>());
      }
    }
    if (std::optional<uint64_t> size = TmpfsSizeOf(options); size && *size <= bound_bytes) continue;
    std::vector<std::string> kept;
    for (std::string& option : options) {
      if (option.rfind("size=", 0) != 0 && option.rfind("nr_blocks=", 0) != 0)
        kept.push_back(std::move(option));
    }
    kept.push_back("size=" + std::to_string(bound_bytes));
    mount["options"] = kept;
  }
  return Status::Ok();
}

Status BoundMemoryCgroup(json& doc, uint64_t bound_bytes) {
  auto linux_it = doc.find("linux");
  if (linux_it == doc.end() || !linux_it->is_object())
    return FieldError("linux", "missing or not an object");
  json& resources = (*linux_it)["resources"];
  if (resources.is_null()) resources = json::object();
  if (!resources.is_object()) return FieldError("linux.resources", "not an object");
  json& memory = resources["memory"];
  if (memory.is_null()) memory = json::object();
  if (!memory.is_object()) return FieldError("linux.resources.memory", "not an object");
  uint64_t limit = bound_bytes;
  for (const char* key : {"limit", "swap"}) {
    // swap is memory+swap (runc refuses a memory limit above it): a smaller
    // one is the tighter bound. -1 and 0 mean unlimited / not set.
    auto it = memory.find(key);
    if (it == memory.end() || it->is_null()) continue;
    if (!it->is_number_integer())
      return FieldError(std::string("linux.resources.memory.") + key, "not an integer");
    const int64_t value = it->get<int64_t>();
    if (value > 0) limit = std::min(limit, static_cast<uint64_t>(value));
  }
  memory["limit"] = static_cast<int64_t>(limit);
  return Status::Ok();
}

// linux.resources.pids.limit: at most `limit`; a positive value the config
// has that is smaller stays (0 or negative is unlimited in OCI).
Status BoundPidsCgroup(json& doc, int64_t limit) {
  auto linux_it = doc.find("linux");
  if (linux_it == doc.end() || !linux_it->is_object())
    return FieldError("linux", "missing or not an object");
  json& resources = (*linux_it)["resources"];
  if (resources.is_null()) resources = json::object();
  if (!resources.is_object()) return FieldError("linux.resources", "not an object");
  json& pids = resources["pids"];
  if (pids.is_null()) pids = json::object();
  if (!pids.is_object()) return FieldError("linux.resources.pids", "not an object");
  if (auto it = pids.find("limit"); it != pids.end() && !it->is_null()) {
    if (!it->is_number_integer()) return FieldError("linux.resources.pids.limit", "not an integer");
    const int64_t value = it->get<int64_t>();
    if (value > 0) limit = std::min(limit, value);
  }
  pids["limit"] = limit;
  return Status::Ok();
}

}  // namespace

KernelBounds KernelBoundsFor(const BarrierLimit& privvmpages, const BarrierLimit& shmpages,
                             const KernelBoundsSettings& settings, const BarrierLimit& numproc) {
  KernelBounds bounds;
  if (!settings.enabled) return bounds;
  if (numproc.limit_pages != kUnlimitedPages &&
      numproc.limit_pages <= static_cast<uint64_t>(INT64_MAX)) {
    // pids.max of 0 would refuse even the container's init: at least one.
    bounds.pids_limit = static_cast<int64_t>(std::max<uint64_t>(numproc.limit_pages, 1));
  }
  std::optional<uint64_t> limit_bytes = PagesToBytes(privvmpages.limit_pages);
  if (!limit_bytes) return bounds;
  bounds.data_bytes = std::max(*limit_bytes, settings.data_floor_bytes);
  bounds.stack_bytes = std::min(settings.stack_bytes, *bounds.data_bytes);
  bounds.tmpfs_bytes = *limit_bytes;
  // Shared pages (SysV segments, memfd, tmpfs, shared anonymous) are in the
  // cgroup too; a finite shmpages limit says how many the operator allows.
  const uint64_t shared_bytes = PagesToBytes(shmpages.limit_pages).value_or(*limit_bytes);
  const uint64_t memory =
      SaturatingAdd(SaturatingAdd(*limit_bytes, shared_bytes), settings.memory_margin_bytes);
  if (settings.memory_cgroup && memory <= kMaxBoundBytes) bounds.memory_bytes = memory;
  return bounds;
}

Status ApplyKernelBounds(json& doc, const KernelBounds& bounds) {
  if (!doc.is_object()) return Status::Error("not a JSON object");
  json out = doc;  // doc stays as it was if a field is malformed
  if (Status s = BoundRlimits(out, bounds); !s.ok()) return s;
  if (bounds.tmpfs_bytes) {
    if (Status s = BoundTmpfsMounts(out, *bounds.tmpfs_bytes); !s.ok()) return s;
  }
  if (bounds.memory_bytes) {
    if (Status s = BoundMemoryCgroup(out, *bounds.memory_bytes); !s.ok()) return s;
  }
  if (bounds.pids_limit) {
    if (Status s = BoundPidsCgroup(out, *bounds.pids_limit); !s.ok()) return s;
  }
  doc = std::move(out);
  return Status::Ok();
}

std::optional<uint64_t> ParseTmpfsSizeBytes(std::string_view text) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr == text.data()) return std::nullopt;
  int shift = 0;
  if (ptr != end) {
    switch (*ptr) {
      case 'k':
      case 'K':
        shift = 10;
        break;
      case 'm':
      case 'M':
        shift = 20;
        break;
      case 'g':
      case 'G':
        shift = 30;
        break;
      case 't':
      case 'T':
        shift = 40;
        break;
      case 'p':
      case 'P':
        shift = 50;
        break;
      case 'e':
      case 'E':
        shift = 60;
        break;
      default:
        return std::nullopt;  // '%' of RAM, or garbage
    }
    if (ptr + 1 != end) return std::nullopt;
  }
  if (shift > 0 && value > (std::numeric_limits<uint64_t>::max() >> shift)) return std::nullopt;
  return value << shift;
}

}  // namespace ubc
