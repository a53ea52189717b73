// ubcd: the ubc supervisor. Thin wiring of config, listener, supervisor and
// status socket; see docs/architecture.md.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "core/embedded_schemas.h"
#include "core/supervisor_config.h"
#include "supervisor/api_token.h"
#include "supervisor/custody.h"
#include "supervisor/exec_watcher.h"
#include "supervisor/fd_store.h"
#include "supervisor/ipc_namespace_service.h"
#include "supervisor/listener.h"
#include "supervisor/log.h"
#include "supervisor/privileges.h"
#include "supervisor/proc_members.h"
#include "supervisor/proc_process_view.h"
#include "supervisor/rest_bridge.h"
#include "supervisor/rest_keeper.h"
#include "supervisor/rest_worker.h"
#include "supervisor/status_server.h"
#include "supervisor/supervisor.h"

namespace {

constexpr char kUsage[] =
    "usage: ubcd [--config FILE]            run the supervisor (embedded default config)\n"
    "       ubcd --status [--json] [--config FILE]\n"
    "                                       print the beancounters of a running ubcd\n"
    "       ubcd --print-default-config     print the embedded default config\n"
    "       ubcd --fd-store [--config FILE] keep notify fds across ubcd restarts\n"
    "                                       (started by ubcd when none runs)\n"
    "       ubcd --rest-worker ...          the REST API's HTTP process (started by ubcd)\n";

// The user the REST API's HTTP process runs as (scripts/setup.sh creates it);
// "nobody" when it does not exist.
constexpr char kRestUser[] = "ubcd-rest";

// `ubcd --rest-worker --rest-address A --rest-port P --log-level L`, exec'd by
// the keeper with ubcd's socket as fd 3.
int RunRestWorkerMain(int argc, char** argv) {
  ubc::RestConfig rest;
  rest.enabled = true;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--rest-address") {
      rest.address = value;
    } else if (flag == "--rest-port") {
      rest.port = static_cast<uint16_t>(std::strtoul(value.c_str(), nullptr, 10));
    } else if (ubc::LogLevel level; flag == "--log-level" && ubc::ParseLogLevel(value, &level)) {
      ubc::SetLogLevel(level);
    }
  }
  signal(SIGPIPE, SIG_IGN);
  return ubc::RunRestWorker(3, rest);
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "ubcd: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--rest-worker") == 0) return RunRestWorkerMain(argc, argv);
  std::string config_path;
  bool status = false, json = false, print_default = false, fd_store = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else if (a == "--status") {
      status = true;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--fd-store") {
      fd_store = true;
    } else if (a == "--print-default-config") {
      print_default = true;
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fputs(kUsage, stderr);
      return Fail("unknown argument \"" + a + "\"");
    }
  }

  ubc::Result<ubc::SupervisorConfig> config = config_path.empty()
                                                  ? ubc::DefaultSupervisorConfig()
                                                  : ubc::LoadSupervisorConfigFile(config_path);
  if (!config.ok()) return Fail(config.status().message());
  if (print_default) {
    std::string_view text = ubc::EmbeddedFile("ubcd.default.json").value_or("");
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  if (status) {
    ubc::Result<std::string> reply = ubc::QueryStatus(config->status_path, json ? "json" : "text");
    if (!reply.ok()) return Fail(reply.status().message());
    std::fwrite(reply->data(), 1, reply->size(), stdout);
    return 0;
  }

  ubc::LogLevel level;
  if (ubc::ParseLogLevel(config->log_level, &level)) ubc::SetLogLevel(level);
  // Every file ubcd creates (state, token, slots, sockets) is root-only.
  ::umask(0077);
  // Each container costs a notify fd and a runtime connection, each exec
  // another pair: use all the fds the host allows.
  if (rlimit nofile{};
      ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  // Half of them at most for the /proc fds of containers' processes: a
  // container running very many processes has them read by path rather than
  // take the fds notify fds, runtimes and decisions need.
  if (rlimit nofile{}; ::getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    ubc::ProcMembers::SetKeptFdBudget(static_cast<int64_t>(nofile.rlim_cur / 2));
  }
  if (fd_store) return ubc::RunFdStore(ubc::FdStorePath(*config));

  // Signals are taken synchronously by the main thread; every other thread
  // inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // ubcd decides for every container on the host: it trusts no file or
  // socket directory that anyone but root could change.
  for (const std::string& path : {config_path, config->containers_dir}) {
    if (path.empty() || ::access(path.c_str(), F_OK) != 0) continue;
    if (ubc::Status s = ubc::CheckOnlyRootCanWrite(path); !s.ok()) return Fail(s.message());
  }
  for (const std::string& path : {config->listener_path, config->status_path}) {
    if (ubc::Status s = ubc::CheckSocketDirectory(path); !s.ok()) return Fail(s.message());
  }

  ubc::Custody custody = ubc::SetUpCustody(*config, config_path);
  // The kernel's exec events: subscribing needs CAP_NET_ADMIN, so before the
  // drop. Without them ubcd still works; an exec'd image is then charged at
  // its process's next trapped call only. UBCD_EXEC_WATCH=off leaves them
  // (for measuring what they cost).
  std::unique_ptr<ubc::ExecWatcher> exec_watcher;
  if (const char* watch = ::getenv("UBCD_EXEC_WATCH");
      watch != nullptr && std::strcmp(watch, "off") == 0) {
    ubc::Log(ubc::LogLevel::kInfo,
             "exec watcher off (UBCD_EXEC_WATCH=off): exec images are charged only at the "
             "process's next trapped call");
  } else if (auto opened = ubc::ExecWatcher::Open(); opened.ok()) {
    exec_watcher = std::move(opened).value();
    ubc::Log(ubc::LogLevel::kInfo, "exec watcher on (proc connector, receive buffer " +
                                       std::to_string(exec_watcher->receive_buffer_bytes()) +
                                       " bytes)");
  } else {
    ubc::Log(ubc::LogLevel::kWarning,
             "no exec events (" + opened.status().message() +
                 "): exec images are charged only at the process's "
                 "next trapped call, and one over the limit is not killed");
  }
  // The reader of containers' IPC namespaces (shmpages) keeps CAP_SYS_ADMIN,
  // which ubcd itself is about to drop.
  std::unique_ptr<ubc::IpcNamespaceService> ipc_reader;
  if (auto started = ubc::IpcNamespaceService::Start(); started.ok()) {
    ipc_reader = std::move(started).value();
  } else {
    ubc::Log(ubc::LogLevel::kWarning,
             "no IPC namespace reader (" + started.status().message() +
                 "): shmget in containers with an IPC namespace of their own is undecidable");
  }
  // The REST API's HTTP process runs as its own user: its keeper, which
  // keeps the capabilities to switch to it, is forked before the drop. The
  // API is an extra window on the counters: ubcd enforces limits without it,
  // so a failure to start it (bad token file) is logged and ubcd runs on.
  std::unique_ptr<ubc::RestKeeper> rest_keeper;
  std::string rest_token;
  if (config->rest.enabled) {
    ubc::Result<std::string> token = ubc::LoadOrCreateApiToken(config->rest.token_file);
    bool fallback = false;
    const ubc::RestWorkerUser user = ubc::ResolveRestWorkerUser(kRestUser, &fallback);
    auto started =
        token.ok()
            ? ubc::RestKeeper::Start(
                  user, {"--rest-worker", "--rest-address", config->rest.address, "--rest-port",
                         std::to_string(config->rest.port), "--log-level", config->log_level})
            : ubc::Result<std::unique_ptr<ubc::RestKeeper>>(token.status());
    if (started.ok()) {
      rest_keeper = std::move(started).value();
      rest_token = *token;
      ubc::Log(fallback ? ubc::LogLevel::kWarning : ubc::LogLevel::kInfo,
               "rest api: HTTP process as user " + user.name + " (uid " + std::to_string(user.uid) +
                   ")" +
                   (fallback ? std::string("; user ") + kRestUser +
                                   " does not exist, create it to keep the HTTP process apart "
                                   "from other daemons"
                             : "") +
                   ", token file " + config->rest.token_file);
    } else {
      ubc::Log(ubc::LogLevel::kError, "rest api not started: " + started.status().message());
    }
  }
  // The containers' /proc/meminfo view: mounting needs CAP_SYS_ADMIN.
  ubc::ProcViewConnection proc_view = ubc::OpenProcView(custody.store.get(), config->proc_dir);
  // Before any thread exists: capabilities are per thread.
  if (ubc::Status s = ubc::DropPrivileges(); !s.ok()) {
    ubc::Log(ubc::LogLevel::kWarning, "keeping start-up privileges: " + s.message());
  }
  ubc::ProcProcessView view(ipc_reader.get());
  ubc::Supervisor::Parts parts;
  parts.view = &view;
  parts.store = custody.store.get();
  if (custody.process_store != nullptr) {
    // The fd store may die while ubcd runs: a new one is started and stocked.
    parts.ensure_store = [&custody, &config_path] {
      return ubc::EnsureFdStore(*custody.process_store, config_path);
    };
  }
  parts.slots = custody.slots.get();
  parts.state_path = custody.state_path;
  ubc::Supervisor supervisor(*config, std::move(parts));
  if (ubc::Status s = supervisor.LoadContainerConfigs(); !s.ok()) return Fail(s.message());
  supervisor.Start();
  if (exec_watcher) {
    exec_watcher->Start([&supervisor](const ubc::ExecEvent& e) { supervisor.OnExec(e); },
                        [&supervisor] { supervisor.OnExecEventsLost(); });
  }
  if (size_t n = supervisor.RecoverFromStore(); n > 0) {
    ubc::Log(ubc::LogLevel::kInfo,
             "recovered " + std::to_string(n) + " notify fds from the fd store");
  }
  // After the recovery, so that the first reads find their containers.
  if (proc_view.fd) {
    supervisor.ServeProcView(std::move(proc_view.fd), proc_view.recovered, ubc::kProcViewStoreKey,
                             proc_view.meta);
  }

  auto listener = ubc::Listener::Create(config->listener_path,
                                        [&supervisor](const ubc::ContainerProcessState& state,
                                                      ubc::UniqueFd fd, const ubc::PeerInfo& peer) {
                                          supervisor.Attach(state, std::move(fd), peer.pid);
                                        });
  if (!listener.ok()) return Fail(listener.status().message());
  auto status_server =
      ubc::StatusServer::Create(config->status_path, [&supervisor](const std::string& request) {
        return request == "json" ? supervisor.StatusJson() : supervisor.StatusText();
      });
  if (!status_server.ok()) {
    ::unlink(config->listener_path.c_str());
    return Fail(status_server.status().message());
  }
  std::thread status_thread([&] { (*status_server)->Run(); });
  std::thread listener_thread([&] { (*listener)->Run(); });
  ubc::Log(ubc::LogLevel::kInfo,
           "listening on " + config->listener_path + ", status on " + config->status_path);

  ubc::SupervisorRestBackend rest_backend(supervisor);
  std::unique_ptr<ubc::RestBridge> rest_bridge;
  std::thread rest_thread;
  if (rest_keeper) {
    rest_bridge =
        std::make_unique<ubc::RestBridge>(rest_backend, std::move(rest_token), rest_keeper->link());
    rest_thread = std::thread([&] { rest_bridge->Run(); });
  }

  int sig = 0;
  for (;;) {
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      ubc::Status s = supervisor.LoadContainerConfigs();
      ubc::Log(s.ok() ? ubc::LogLevel::kInfo : ubc::LogLevel::kError,
               s.ok() ? "reloaded " + config->containers_dir
                      : "reload failed, previous container configs kept: " + s.message());
      if (rest_bridge) {
        // A rotated token file takes effect without a restart; one that is
        // refused (owner, mode) leaves the previous token in force.
        ubc::Result<std::string> token = ubc::LoadOrCreateApiToken(config->rest.token_file);
        if (token.ok()) {
          rest_bridge->SetToken(*token);
          ubc::Log(ubc::LogLevel::kInfo, "reloaded the api token from " + config->rest.token_file);
        } else {
          ubc::Log(ubc::LogLevel::kError,
                   "api token reload failed, previous token kept: " + token.status().message());
        }
      }
      continue;
    }
    break;
  }
  // Stopping: no new runtime is accepted, status and REST go quiet, every
  // notify thread finishes the call it is deciding and is joined, and the
  // state file is written. The notify fds stay in the fd store: calls made
  // meanwhile wait for the next ubcd.
  ubc::Log(ubc::LogLevel::kInfo, std::string("stopping on ") + strsignal(sig));
  (*listener)->Stop();
  listener_thread.join();
  ::unlink(config->listener_path.c_str());
  if (rest_bridge) {
    rest_bridge->Stop();
    rest_thread.join();
  }
  rest_keeper.reset();  // the keeper and its HTTP process are killed
  (*status_server)->Stop();
  status_thread.join();
  ::unlink(config->status_path.c_str());
  if (exec_watcher) exec_watcher->Stop();  // it calls into the supervisor
  supervisor.Stop();
  ubc::Log(ubc::LogLevel::kInfo, "stopped");
  return 0;
}
