// strait: the proxy daemon.
//
//   strait                          serve the built-in demo configuration
//   strait --config FILE            serve FILE
//   strait --config FILE --shards N override the shard count
//   strait --check-config FILE      validate FILE, explain it, exit 0 or 1
//   strait --print-default-config   print the built-in configuration as TOML
//
// Signals: SIGTERM or SIGINT drains (stop accepting, let tunnels finish for drain_ms), a second
// one stops at once; SIGHUP reloads the exits and the accounts from the configuration file.

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/logging.h"
#include "core/server.h"
#include "fmt/format.h"
#include "routing/exit_registry.h"

namespace {

using strait::core::Config;
using strait::core::Log;

struct Options {
  std::string config_path;
  std::string check_path;
  bool print_default = false;
  int shards = -1;
};

constexpr std::string_view kUsage =
    "usage: strait [--config FILE] [--shards N]\n"
    "       strait --check-config FILE\n"
    "       strait --print-default-config\n";

bool ParseOptions(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    bool has_value = i + 1 < argc;
    if (arg == "--config" && has_value) {
      options->config_path = argv[++i];
    } else if (arg == "--check-config" && has_value) {
      options->check_path = argv[++i];
    } else if (arg == "--print-default-config") {
      options->print_default = true;
    } else if (arg == "--shards" && has_value) {
      std::string_view value = argv[++i];
      auto [end, error] =
          std::from_chars(value.data(), value.data() + value.size(), options->shards);
      if (error != std::errc() || end != value.data() + value.size() || options->shards < 1 ||
          options->shards > 256) {
        std::fprintf(stderr, "--shards wants a number from 1 to 256, not '%s'\n", argv[i]);
        return false;
      }
    } else {
      std::fprintf(stderr, "unknown or incomplete argument '%s'\n%s", argv[i], kUsage.data());
      return false;
    }
  }
  return true;
}

// Raises the soft open-file limit to the hard one: each tunnel needs two to six descriptors.
rlim_t RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return 0;
  }
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

int CheckConfig(const std::string& path) {
  absl::StatusOr<Config> config = strait::core::LoadConfigFile(path);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", std::string(config.status().message()).c_str());
    return 1;
  }
  // Loading the exits is part of the check: a bad row must show here, not at start-up.
  config->shards = 1;
  config->listeners.clear();
  config->listeners.push_back(
      strait::core::ListenerConfig{.address = *strait::net::SocketAddress::Parse("127.0.0.1:0")});
  absl::StatusOr<std::unique_ptr<strait::core::Server>> server =
      strait::core::Server::Create(*config);
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  std::string description = strait::core::DescribeConfig(*config);
  std::fprintf(stdout, "%s  exits loaded: %zu\nconfiguration is valid\n", description.c_str(),
               (*server)->exits().Acquire()->size());
  return 0;
}

// Signals received and not yet handled, one bit each; set from the signal handler.
std::atomic<int> pending_signals{0};

constexpr int SignalBit(int signal_number) { return 1 << signal_number; }

void RecordSignal(int signal_number) {
  // fetch_or on a lock-free atomic is async-signal-safe.
  pending_signals.fetch_or(SignalBit(signal_number));
}

void ReloadFromFile(strait::core::Server& server, const std::string& path) {
  if (path.empty()) {
    Log().info("SIGHUP: the built-in configuration has nothing to reload");
    return;
  }
  absl::StatusOr<Config> config = strait::core::LoadConfigFile(path);
  if (!config.ok()) {
    Log().error("SIGHUP: configuration not reloaded: {}", std::string(config.status().message()));
    return;
  }
  absl::Status reloaded = server.Reload(*config);
  if (!reloaded.ok()) {
    Log().error("SIGHUP: nothing reloaded, accounts and exits stay as they were: {}",
                std::string(reloaded.message()));
    return;
  }
  Log().info(
      "SIGHUP: reloaded {} accounts and {} exits (listeners, policy, limits and timeouts "
      "change only on restart)",
      config->accounts.size(), server.exits().Acquire()->size());
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) {
    return 2;
  }
  if (options.print_default) {
    std::fwrite(strait::core::DefaultConfigText().data(), 1,
                strait::core::DefaultConfigText().size(), stdout);
    return 0;
  }
  // splice(2) has no MSG_NOSIGNAL: a write to a closed peer must not kill the process.
  signal(SIGPIPE, SIG_IGN);
  if (!options.check_path.empty()) {
    return CheckConfig(options.check_path);
  }

  absl::StatusOr<Config> config = options.config_path.empty()
                                      ? absl::StatusOr<Config>(strait::core::DefaultConfig())
                                      : strait::core::LoadConfigFile(options.config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", std::string(config.status().message()).c_str());
    return 1;
  }
  if (options.shards > 0) {
    config->shards = options.shards;
  }
  if (absl::Status status = strait::core::InitLogging(config->log_level, config->access_log);
      !status.ok()) {
    std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
    return 1;
  }

  // The shard and resolver threads inherit a mask blocking these signals; the handler records
  // them for the main thread's loop below. A handler rather than sigwait: threads that exist
  // before main (a sanitizer runtime's) do not block them, and with the default action a SIGHUP
  // delivered there would end the process.
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal_number : {SIGTERM, SIGINT, SIGHUP}) {
    sigaddset(&signals, signal_number);
    struct sigaction action {};
    action.sa_handler = RecordSignal;
    sigemptyset(&action.sa_mask);
    sigaction(signal_number, &action, nullptr);
  }
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  rlim_t file_limit = RaiseFileLimit();
  absl::StatusOr<std::unique_ptr<strait::core::Server>> created =
      strait::core::Server::Create(*config);
  if (!created.ok()) {
    Log().error("{}", std::string(created.status().message()));
    return 1;
  }
  strait::core::Server& server = **created;

  for (const strait::net::SocketAddress& address : server.listen_addresses()) {
    Log().info("listening on {}", address.ToString());
  }
  Log().info("configuration {}; {} shards, relay {}, {} exits", config->origin,
             server.shard_count(), strait::net::RelayStrategyName(config->relay),
             server.exits().Acquire()->size());
  Log().info(
      "open-file limit {}: room for {} tunnels (2 descriptors each while idle, up to 6 "
      "while moving bytes)",
      file_limit, server.max_tunnels());
  server.Start();

  pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
  bool draining = false;
  for (;;) {
    // A signal to this thread cuts the sleep short; one taken by another thread waits for the
    // next look, at most 200 ms.
    usleep(200'000);
    int pending = pending_signals.exchange(0);
    if ((pending & SignalBit(SIGHUP)) != 0) {
      ReloadFromFile(server, options.config_path);
    }
    for (int signal_number : {SIGTERM, SIGINT}) {
      if ((pending & SignalBit(signal_number)) == 0) {
        continue;
      }
      if (!draining) {
        Log().info("{}: draining for up to {} ms", strsignal(signal_number), config->drain_ms);
        server.Drain();
        draining = true;
      } else {
        Log().info("{} again: stopping now", strsignal(signal_number));
        server.Stop();
      }
    }
    bool all_stopped = true;
    for (int i = 0; i < server.shard_count(); ++i) {
      all_stopped = all_stopped && server.ShardStopped(i);
    }
    if (all_stopped) {
      break;
    }
  }
  server.Wait();
  Log().info("stopped");
  created->reset();
  strait::core::ShutdownLogging();
  return 0;
}
