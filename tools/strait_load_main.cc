// strait_load: the bench's load generator and target server in one program.
//
//   strait_load target [--listen 127.0.0.1:19000] [--port-file F] [--max-run-s 3600]
//   strait_load run --mode connect|throughput|idle --proxy SPEC [options]
//
// See kUsage below and tools/load_client.h for what each mode measures.

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tools/load_client.h"
#include "tools/load_target.h"

namespace strait::load {
namespace {

constexpr char kUsage[] = R"(usage:
  strait_load target [--listen 127.0.0.1:19000] [--ports N] [--port-file FILE] [--max-run-s S]
  strait_load run --mode connect|throughput|idle --proxy SPEC [options]

SPEC: direct | relay://ADDR:PORT | http://ADDR:PORT | socks5://ADDR:PORT (loopback only)
options:
  --target ADDR:PORT        tunnel destination (default 127.0.0.1:19000)
  --target-stats ADDR:PORT  where the target's totals are read (default: --target)
  --target-ports N          tunnels rotate over N ports from --target's port (1); not for
                            relay://, whose target is fixed in the relay's configuration
  --source-ips N            bind clients to 127.0.1.1..N in turn (0: the kernel picks)
  --routing KIND            none|plain|rotating|sticky-one|sticky-many|targeted
                            (default: none for direct/relay, plain otherwise)
  --account NAME --password PW   (default bench / bench)
  --sessions N              sticky-many session count (default 64)
  --workers N               connect: concurrent workers; idle: handshakes in flight (64)
  --count N                 connect: stop after N tunnels (default: duration only)
  --duration S              connect/throughput run time; idle: bound on opening (3)
  --timeout-ms MS           per attempt (5000)
  --retries N               further attempts per tunnel after a failed one (0)
  --tunnels K               throughput tunnels (8)
  --direction up|down|both  throughput direction (up)
  --idle-tunnels N          idle tunnels to hold (1000)
  --hold S                  idle hold time (2)
  --proxy-pid PID           measure this process and its descendants from /proc
  --json FILE               also write the report as JSON
  --label TEXT              name of the run in the report
)";

bool ParseInt(std::string_view text, long long min, long long max, long long* value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size() && *value >= min && *value <= max;
}

bool ParseSeconds(std::string_view text, double* value) {
  char* end = nullptr;
  std::string copy(text);
  *value = std::strtod(copy.c_str(), &end);
  return end != copy.c_str() && *end == '\0' && *value >= 0 && *value <= 3600;
}

// Walks "--name value" pairs; calls `apply(name, value)` for each. False on a dangling name.
template <typename Apply>
bool ForEachOption(int argc, char** argv, Apply apply) {
  for (int i = 2; i < argc; i += 2) {
    std::string_view name = argv[i];
    if (name.substr(0, 2) != "--" || i + 1 >= argc) {
      std::fprintf(stderr, "bad or dangling option '%s'\n", argv[i]);
      return false;
    }
    if (!apply(name.substr(2), std::string_view(argv[i + 1]))) {
      std::fprintf(stderr, "bad value for %s: '%s'\n", argv[i], argv[i + 1]);
      return false;
    }
  }
  return true;
}

bool ParseProxySpec(std::string_view spec, RunOptions* options) {
  struct Scheme {
    std::string_view prefix;
    ProxyKind kind;
  };
  static constexpr Scheme kSchemes[] = {{"relay://", ProxyKind::kRelay},
                                        {"http://", ProxyKind::kHttp},
                                        {"socks5://", ProxyKind::kSocks5}};
  if (spec == "direct") {
    options->proxy_kind = ProxyKind::kDirect;
    return true;
  }
  for (const Scheme& scheme : kSchemes) {
    if (spec.substr(0, scheme.prefix.size()) == scheme.prefix) {
      options->proxy_kind = scheme.kind;
      options->proxy = std::string(spec.substr(scheme.prefix.size()));
      return true;
    }
  }
  return false;
}

int MainTarget(int argc, char** argv) {
  TargetOptions options;
  bool ok = ForEachOption(argc, argv, [&](std::string_view name, std::string_view value) {
    long long number = 0;
    if (name == "listen") {
      options.listen = std::string(value);
    } else if (name == "ports" && ParseInt(value, 1, 64, &number)) {
      options.ports = static_cast<int>(number);
    } else if (name == "port-file") {
      options.port_file = std::string(value);
    } else if (name == "max-run-s" && ParseInt(value, 1, 86400, &number)) {
      options.max_run_s = static_cast<int>(number);
    } else {
      return false;
    }
    return true;
  });
  if (!ok) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  return RunTarget(options);
}

int MainRun(int argc, char** argv) {
  RunOptions options;
  bool routing_given = false;
  bool mode_given = false;
  bool proxy_given = false;
  bool ok = ForEachOption(argc, argv, [&](std::string_view name, std::string_view value) {
    long long number = 0;
    if (name == "mode") {
      mode_given = true;
      if (value == "connect") {
        options.mode = Mode::kConnect;
      } else if (value == "throughput") {
        options.mode = Mode::kThroughput;
      } else if (value == "idle") {
        options.mode = Mode::kIdle;
      } else {
        return false;
      }
    } else if (name == "proxy") {
      proxy_given = true;
      return ParseProxySpec(value, &options);
    } else if (name == "target") {
      options.target = std::string(value);
    } else if (name == "target-ports" && ParseInt(value, 1, 64, &number)) {
      options.target_ports = static_cast<int>(number);
    } else if (name == "source-ips" && ParseInt(value, 0, 250, &number)) {
      options.source_ips = static_cast<int>(number);
    } else if (name == "target-stats") {
      options.stats_address = std::string(value);
    } else if (name == "routing") {
      routing_given = true;
      return ParseRoutingKind(value, &options.routing);
    } else if (name == "account") {
      options.account = std::string(value);
    } else if (name == "password") {
      options.password = std::string(value);
    } else if (name == "sessions" && ParseInt(value, 1, 1'000'000, &number)) {
      options.sessions = static_cast<uint32_t>(number);
    } else if (name == "workers" && ParseInt(value, 1, 10'000, &number)) {
      options.workers = static_cast<int>(number);
    } else if (name == "count" && ParseInt(value, 0, 1'000'000'000, &number)) {
      options.count = static_cast<uint64_t>(number);
    } else if (name == "duration") {
      return ParseSeconds(value, &options.duration_s);
    } else if (name == "timeout-ms" && ParseInt(value, 1, 600'000, &number)) {
      options.timeout_ms = static_cast<int>(number);
    } else if (name == "retries" && ParseInt(value, 0, 100, &number)) {
      options.retries = static_cast<int>(number);
    } else if (name == "tunnels" && ParseInt(value, 1, 10'000, &number)) {
      options.tunnels = static_cast<int>(number);
    } else if (name == "direction") {
      if (value == "up") {
        options.direction = Direction::kUp;
      } else if (value == "down") {
        options.direction = Direction::kDown;
      } else if (value == "both") {
        options.direction = Direction::kBoth;
      } else {
        return false;
      }
    } else if (name == "idle-tunnels" && ParseInt(value, 1, 100'000, &number)) {
      options.idle_tunnels = static_cast<int>(number);
    } else if (name == "hold") {
      return ParseSeconds(value, &options.hold_s);
    } else if (name == "proxy-pid" && ParseInt(value, 1, 1 << 22, &number)) {
      options.proxy_pid = static_cast<pid_t>(number);
    } else if (name == "json") {
      options.json_path = std::string(value);
    } else if (name == "label") {
      options.label = std::string(value);
    } else {
      return false;
    }
    return true;
  });
  if (!ok || !mode_given || !proxy_given) {
    if (ok) {
      std::fprintf(stderr, "--mode and --proxy are required\n");
    }
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (!routing_given) {
    bool handshake =
        options.proxy_kind == ProxyKind::kHttp || options.proxy_kind == ProxyKind::kSocks5;
    options.routing = handshake ? RoutingKind::kPlain : RoutingKind::kNone;
  }
  return RunLoad(options);
}

}  // namespace
}  // namespace strait::load

int main(int argc, char** argv) {
  std::string_view command = argc > 1 ? argv[1] : "";
  if (command == "target") {
    return strait::load::MainTarget(argc, argv);
  }
  if (command == "run") {
    return strait::load::MainRun(argc, argv);
  }
  std::fputs(strait::load::kUsage, stderr);
  return 2;
}
