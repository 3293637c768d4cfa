#pragma once

// The daemon's configuration: a TOML file, or the built-in default that serves a local demo.
//
//   [server]    shards, relay ("splice" | "uring_splice"), pipe_size, pipe_pool_idle,
//               access_log ("-" stdout, "" off, or a path), log_level, proxy_status
//   [timeouts]  handshake_ms, connect_ms, idle_ms, drain_ms
//   [limits]    max_header_bytes, max_tunnels
//   [policy]    allow_private, allowed_ports, denied_ports
//   [sticky]    default_ttl ("10m", "2h": the routing grammar's ttl form), capacity
//   [dns]       cache_ttl_s, threads
//   [[listener]] address, protocols (["http", "socks5"]), pool
//   [[account]] name, password | password_sha256
//   [exits]     file (CSV) | inline (CSV text)
//
// Relative paths (the exits file, the access log) are taken from the configuration's folder.
//
// Unknown keys are errors, so a typo cannot silently leave a default in force. Every error
// names the file, the key and what was wrong.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/accounts.h"
#include "core/target_policy.h"
#include "net/relay.h"
#include "net/socket.h"
#include "routing/pool.h"

namespace strait::core {

struct ListenerConfig {
  net::SocketAddress address;
  bool http = true;
  bool socks5 = true;
  routing::Pool pool = routing::Pool::kResidential;
};

struct Config {
  // [server]
  int shards = 0;  // 0: one per online CPU
  net::RelayStrategy relay = net::RelayStrategy::kPollSplice;
  size_t pipe_size = 256 * 1024;
  size_t pipe_pool_idle = 64;
  std::string access_log = "-";
  std::string log_level = "info";
  bool proxy_status = true;

  // [timeouts]
  uint32_t handshake_ms = 10'000;
  uint32_t connect_ms = 10'000;
  uint32_t idle_ms = 300'000;
  uint32_t drain_ms = 30'000;

  // [limits]
  size_t max_header_bytes = 16 * 1024;
  size_t max_tunnels = 0;  // 0: as many as the open-file limit allows

  TargetPolicyConfig policy;

  // [sticky]
  uint32_t sticky_default_ttl_s = 600;
  size_t sticky_capacity = 1 << 20;

  // [dns]
  uint32_t dns_cache_ttl_s = 60;
  int dns_threads = 2;

  std::vector<ListenerConfig> listeners;
  std::vector<AccountSpec> accounts;

  // [exits]: exactly one of the two is set.
  std::string exits_file;
  std::string exits_inline_csv;

  // Where the configuration came from, for messages ("built-in default" or the path).
  std::string origin;
};

// Parses configuration text. `origin` names it in messages; relative paths in it are taken
// from `base_directory`.
absl::StatusOr<Config> ParseConfig(std::string_view toml_text, std::string_view origin,
                                   std::string_view base_directory);

absl::StatusOr<Config> LoadConfigFile(const std::string& path);

// The built-in configuration, as TOML text and parsed: a loopback listener on 127.0.0.1:8000
// (HTTP and SOCKS5 auto-detected), the account demo/demo, private targets allowed, and demo
// exits on loopback source addresses 127.0.0.2 .. 127.0.0.5.
std::string_view DefaultConfigText();
Config DefaultConfig();

// A human summary for `strait --check-config`: listeners, accounts, exits source, limits.
std::string DescribeConfig(const Config& config);

// "10m", "2h", "1d" -> seconds; the routing grammar's ttl form, range 1m..24h.
absl::StatusOr<uint32_t> ParseTtl(std::string_view text);

}  // namespace strait::core
