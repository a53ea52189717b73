// Custody: wiring of the fd store, the in-flight slots and the state file
// for one ubcd, all kept in the config's state_dir.
//
// SetUpCustody() picks the fd custody: systemd's fd store when ubcd runs
// under a unit that enables it (supervisor/systemd_fd_store.h), else the fd
// store process, started as a detached `ubcd --fd-store` when none answers
// (so it outlives ubcd crashes). It maps the
// in-flight slots and names the state file. Anything that fails is logged and
// leaves that part off: ubcd still runs, only without restart protection.
// Called once from main; not thread-safe.
#pragma once

#include <memory>
#include <string>

#include "core/supervisor_config.h"
#include "core/unique_fd.h"
#include "supervisor/fd_store.h"
#include "supervisor/inflight_slots.h"

namespace ubc {

std::string FdStorePath(const SupervisorConfig& config);

struct Custody {
  std::unique_ptr<FdKeeper> store;
  // The fd store process's client when `store` is one (it can be restarted);
  // null under systemd's fd store.
  FdStoreClient* process_store = nullptr;
  std::unique_ptr<InflightSlots> slots;
  std::string state_path;
};

Custody SetUpCustody(const SupervisorConfig& config, const std::string& config_path);

// Starts a fd store when none answers at `store` and waits for it (up to 3 s).
// True when one answers afterwards.
bool EnsureFdStore(FdStoreClient& store, const std::string& config_path);

// The proc view's FUSE connection (supervisor/proc_view_fs.h) at `dir`: the one
// a previous ubcd left in `store` (null: none) when it is still mounted there,
// else a fresh mount, put in the store at once. `fd` is empty when no view
// could be mounted (logged: ubcd runs without it). Mounting needs
// CAP_SYS_ADMIN: called before the privileges are dropped.
inline constexpr char kProcViewStoreKey[] = "proc-view";
struct ProcViewConnection {
  UniqueFd fd;
  bool recovered = false;
  nlohmann::json meta;  // what the store keeps beside it
};
ProcViewConnection OpenProcView(FdKeeper* store, const std::string& dir);

}  // namespace ubc
