#include "core/persisted_state.h"

#include <nlohmann/json.hpp>

#include "core/json_depth.h"

namespace ubc {
namespace {

bool ReadUint(const nlohmann::json& object, const char* key, uint64_t* out) {
  auto it = object.find(key);
  if (it == object.end()) return true;
  if (!it->is_number_unsigned()) return false;
  *out = it->get<uint64_t>();
  return true;
}

}  // namespace

std::string SerializePersistedState(const PersistedState& state) {
  nlohmann::json containers = nlohmann::json::object();
  for (const auto& [id, c] : state) {
    nlohmann::json entry = {{"maxheld", c.maxheld_pages}, {"failcnt", c.failcnt}};
    if (c.shm_maxheld_pages != 0 || c.shm_failcnt != 0) {
      entry["shm_maxheld"] = c.shm_maxheld_pages;
      entry["shm_failcnt"] = c.shm_failcnt;
    }
    if (c.numproc_maxheld != 0 || c.numproc_failcnt != 0) {
      entry["numproc_maxheld"] = c.numproc_maxheld;
      entry["numproc_failcnt"] = c.numproc_failcnt;
    }
    if (c.locked_maxheld_pages != 0 || c.locked_failcnt != 0) {
      entry["locked_maxheld"] = c.locked_maxheld_pages;
      entry["locked_failcnt"] = c.locked_failcnt;
    }
    if (c.api_privvmpages) {
      entry["api_privvmpages"] = {{"barrier", c.api_privvmpages->barrier_pages},
                                  {"limit", c.api_privvmpages->limit_pages}};
    }
    if (c.api_shmpages) {
      entry["api_shmpages"] = {{"barrier", c.api_shmpages->barrier_pages},
                               {"limit", c.api_shmpages->limit_pages}};
    }
    if (c.api_numproc) {
      entry["api_numproc"] = {{"barrier", c.api_numproc->barrier_pages},
                              {"limit", c.api_numproc->limit_pages}};
    }
    if (c.api_meminfo) entry["api_meminfo"] = FormatMeminfoMode(*c.api_meminfo);
    if (c.api_lockedpages) {
      entry["api_lockedpages"] = {{"barrier", c.api_lockedpages->barrier_pages},
                                  {"limit", c.api_lockedpages->limit_pages}};
    }
    containers[id] = std::move(entry);
  }
  nlohmann::json doc = {{"version", 1}, {"containers", std::move(containers)}};
  return doc.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Result<PersistedState> ParsePersistedState(std::string_view text, std::string_view source) {
  const std::string where(source);
  if (Status s = CheckJsonDepth(text, where); !s.ok()) return s;
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return Status::Error(where + ": not a JSON object");
  auto containers = doc.find("containers");
  if (containers == doc.end() || !containers->is_object()) {
    return Status::Error(where + ": /containers must be an object");
  }
  PersistedState out;
  for (auto it = containers->begin(); it != containers->end(); ++it) {
    const std::string pointer = "/containers/" + it.key();
    if (!it->is_object()) return Status::Error(where + ": " + pointer + " must be an object");
    PersistedContainer c;
    if (!ReadUint(*it, "maxheld", &c.maxheld_pages) || !ReadUint(*it, "failcnt", &c.failcnt)) {
      return Status::Error(where + ": " + pointer + ": maxheld and failcnt must be unsigned");
    }
    // Absent in state files written before shmpages.
    if (!ReadUint(*it, "shm_maxheld", &c.shm_maxheld_pages) ||
        !ReadUint(*it, "shm_failcnt", &c.shm_failcnt)) {
      return Status::Error(where + ": " + pointer +
                           ": shm_maxheld and shm_failcnt must be unsigned");
    }
    // Absent in state files written before numproc.
    if (!ReadUint(*it, "numproc_maxheld", &c.numproc_maxheld) ||
        !ReadUint(*it, "numproc_failcnt", &c.numproc_failcnt)) {
      return Status::Error(where + ": " + pointer +
                           ": numproc_maxheld and numproc_failcnt must be unsigned");
    }
    if (auto m = it->find("api_meminfo"); m != it->end()) {
      Result<MeminfoMode> mode = m->is_string()
                                     ? ParseMeminfoMode(m->get<std::string>())
                                     : Result<MeminfoMode>(Status::Error("not a string"));
      if (!mode.ok()) {
        return Status::Error(where + ": " + pointer + "/api_meminfo: " + mode.status().message());
      }
      c.api_meminfo = *mode;
    }
    // Absent in state files written before lockedpages.
    if (!ReadUint(*it, "locked_maxheld", &c.locked_maxheld_pages) ||
        !ReadUint(*it, "locked_failcnt", &c.locked_failcnt)) {
      return Status::Error(where + ": " + pointer +
                           ": locked_maxheld and locked_failcnt must be unsigned");
    }
    for (const char* field :
         {"api_privvmpages", "api_shmpages", "api_numproc", "api_lockedpages"}) {
      auto api = it->find(field);
      if (api == it->end()) continue;
      BarrierLimit bl;
      if (!api->is_object() || !api->contains("barrier") || !api->contains("limit") ||
          !ReadUint(*api, "barrier", &bl.barrier_pages) ||
          !ReadUint(*api, "limit", &bl.limit_pages)) {
        return Status::Error(where + ": " + pointer + "/" + field +
                             " needs unsigned barrier and limit");
      }
      const std::string_view name = field;
      (name == "api_privvmpages" ? c.api_privvmpages
       : name == "api_shmpages"  ? c.api_shmpages
       : name == "api_numproc"   ? c.api_numproc
                                 : c.api_lockedpages) = bl;
    }
    out[it.key()] = c;
  }
  return out;
}

}  // namespace ubc
