#include "core/config.h"

#include <fstream>
#include <sstream>
#include <thread>

#include "fmt/format.h"
#include "toml++/toml.h"

namespace strait::core {
namespace {

constexpr std::string_view kDefaultConfigText =
    R"toml(# Strait's built-in configuration: a local demo.
[server]
shards = 0
relay = "splice"
access_log = "-"

[policy]
# The demo exits and targets live on loopback.
allow_private = true

[[listener]]
address = "127.0.0.1:8000"
protocols = ["http", "socks5"]
pool = "residential"

[[account]]
name = "demo"
password = "demo"

[exits]
inline = """
id,pool,country,state,city,zip,asn,capacity,weight,egress
us-charlotte-1,residential,us,north_carolina,charlotte,28202,7018,0,1,direct:127.0.0.2
us-orlando-1,residential,us,florida,orlando,32808,7922,0,1,direct:127.0.0.3
gb-london-1,residential,gb,england,london,ec1a,2856,0,1,direct:127.0.0.4
de-berlin-1,residential,de,berlin,berlin,10115,3320,0,1,direct:127.0.0.5
"""
)toml";

// Reads one TOML table, remembering which keys were consumed so that leftovers are reported.
class TableReader {
 public:
  TableReader(const toml::table* table, std::string context, const Config& config)
      : table_(table), context_(std::move(context)), origin_(config.origin) {}

  const toml::node* Take(std::string_view key) {
    taken_.emplace_back(key);
    return table_ == nullptr ? nullptr : table_->get(key);
  }

  absl::Status Error(std::string_view key, std::string_view problem) const {
    return absl::InvalidArgumentError(fmt::format(
        "{}: {}{}: {}", origin_, context_, key.empty() ? "" : fmt::format(".{}", key), problem));
  }

  template <typename Integer>
  absl::Status ReadInteger(std::string_view key, Integer* out, int64_t min, int64_t max) {
    const toml::node* node = Take(key);
    if (node == nullptr) {
      return absl::OkStatus();
    }
    std::optional<int64_t> value = node->value_exact<int64_t>();
    if (!value.has_value()) {
      return Error(key, "must be an integer");
    }
    if (*value < min || *value > max) {
      return Error(key, fmt::format("{} is out of range [{}, {}]", *value, min, max));
    }
    *out = static_cast<Integer>(*value);
    return absl::OkStatus();
  }

  absl::Status ReadBool(std::string_view key, bool* out) {
    const toml::node* node = Take(key);
    if (node == nullptr) {
      return absl::OkStatus();
    }
    std::optional<bool> value = node->value_exact<bool>();
    if (!value.has_value()) {
      return Error(key, "must be true or false");
    }
    *out = *value;
    return absl::OkStatus();
  }

  absl::Status ReadString(std::string_view key, std::string* out) {
    const toml::node* node = Take(key);
    if (node == nullptr) {
      return absl::OkStatus();
    }
    std::optional<std::string> value = node->value_exact<std::string>();
    if (!value.has_value()) {
      return Error(key, "must be a string");
    }
    *out = std::move(*value);
    return absl::OkStatus();
  }

  absl::Status ReadStringList(std::string_view key, std::vector<std::string>* out) {
    const toml::node* node = Take(key);
    if (node == nullptr) {
      return absl::OkStatus();
    }
    const toml::array* array = node->as_array();
    if (array == nullptr) {
      return Error(key, "must be an array of strings");
    }
    out->clear();
    for (const toml::node& element : *array) {
      std::optional<std::string> value = element.value_exact<std::string>();
      if (!value.has_value()) {
        return Error(key, "must be an array of strings");
      }
      out->push_back(std::move(*value));
    }
    return absl::OkStatus();
  }

  absl::Status ReadPortList(std::string_view key, std::vector<uint16_t>* out) {
    const toml::node* node = Take(key);
    if (node == nullptr) {
      return absl::OkStatus();
    }
    const toml::array* array = node->as_array();
    if (array == nullptr) {
      return Error(key, "must be an array of port numbers");
    }
    out->clear();
    for (const toml::node& element : *array) {
      std::optional<int64_t> value = element.value_exact<int64_t>();
      if (!value.has_value() || *value < 1 || *value > 65535) {
        return Error(key, "must be an array of port numbers 1..65535");
      }
      out->push_back(static_cast<uint16_t>(*value));
    }
    return absl::OkStatus();
  }

  // Fails naming the first key that nothing asked for.
  absl::Status RejectUnknownKeys() const {
    if (table_ == nullptr) {
      return absl::OkStatus();
    }
    for (auto&& [key, node] : *table_) {
      if (std::find(taken_.begin(), taken_.end(), key.str()) == taken_.end()) {
        return Error(key.str(), "unknown key");
      }
    }
    return absl::OkStatus();
  }

 private:
  const toml::table* table_;
  std::string context_;
  std::string origin_;
  std::vector<std::string> taken_;
};

absl::Status ReadServer(TableReader& reader, Config* config) {
  if (auto status = reader.ReadInteger("shards", &config->shards, 0, 256); !status.ok()) {
    return status;
  }
  std::string relay(net::RelayStrategyName(config->relay));
  if (auto status = reader.ReadString("relay", &relay); !status.ok()) {
    return status;
  }
  std::optional<net::RelayStrategy> strategy = net::ParseRelayStrategy(relay);
  if (!strategy.has_value()) {
    return reader.Error("relay", fmt::format("'{}' is not \"splice\" or \"uring_splice\"", relay));
  }
  config->relay = *strategy;

  for (absl::Status status : {
           reader.ReadInteger("pipe_size", &config->pipe_size, 4096, 1 << 20),
           reader.ReadInteger("pipe_pool_idle", &config->pipe_pool_idle, 0, 1 << 16),
           reader.ReadString("access_log", &config->access_log),
           reader.ReadString("log_level", &config->log_level),
           reader.ReadBool("proxy_status", &config->proxy_status),
       }) {
    if (!status.ok()) {
      return status;
    }
  }
  for (std::string_view level : {"trace", "debug", "info", "warn", "error", "off"}) {
    if (config->log_level == level) {
      return reader.RejectUnknownKeys();
    }
  }
  return reader.Error("log_level", fmt::format("'{}' is not trace, debug, info, warn, error or off",
                                               config->log_level));
}

absl::Status ReadTimeouts(TableReader& reader, Config* config) {
  constexpr int64_t kDay = 86'400'000;
  for (absl::Status status : {
           reader.ReadInteger("handshake_ms", &config->handshake_ms, 100, kDay),
           reader.ReadInteger("connect_ms", &config->connect_ms, 100, kDay),
           reader.ReadInteger("idle_ms", &config->idle_ms, 1000, kDay),
           reader.ReadInteger("drain_ms", &config->drain_ms, 0, kDay),
       }) {
    if (!status.ok()) {
      return status;
    }
  }
  return reader.RejectUnknownKeys();
}

absl::Status ReadLimits(TableReader& reader, Config* config) {
  for (absl::Status status : {
           reader.ReadInteger("max_header_bytes", &config->max_header_bytes, 1024, 1 << 20),
           reader.ReadInteger("max_tunnels", &config->max_tunnels, 0, 1 << 24),
       }) {
    if (!status.ok()) {
      return status;
    }
  }
  return reader.RejectUnknownKeys();
}

absl::Status ReadPolicy(TableReader& reader, Config* config) {
  for (absl::Status status : {
           reader.ReadBool("allow_private", &config->policy.allow_private),
           reader.ReadPortList("allowed_ports", &config->policy.allowed_ports),
           reader.ReadPortList("denied_ports", &config->policy.denied_ports),
       }) {
    if (!status.ok()) {
      return status;
    }
  }
  return reader.RejectUnknownKeys();
}

absl::Status ReadSticky(TableReader& reader, Config* config) {
  std::string ttl;
  if (auto status = reader.ReadString("default_ttl", &ttl); !status.ok()) {
    return status;
  }
  if (!ttl.empty()) {
    absl::StatusOr<uint32_t> seconds = ParseTtl(ttl);
    if (!seconds.ok()) {
      return reader.Error("default_ttl", std::string(seconds.status().message()));
    }
    config->sticky_default_ttl_s = *seconds;
  }
  if (auto status = reader.ReadInteger("capacity", &config->sticky_capacity, 16, 1ll << 30);
      !status.ok()) {
    return status;
  }
  return reader.RejectUnknownKeys();
}

absl::Status ReadDns(TableReader& reader, Config* config) {
  for (absl::Status status : {
           reader.ReadInteger("cache_ttl_s", &config->dns_cache_ttl_s, 0, 86'400),
           reader.ReadInteger("threads", &config->dns_threads, 1, 64),
       }) {
    if (!status.ok()) {
      return status;
    }
  }
  return reader.RejectUnknownKeys();
}

absl::Status ReadListener(TableReader& reader, Config* config) {
  ListenerConfig listener;
  std::string address;
  if (auto status = reader.ReadString("address", &address); !status.ok()) {
    return status;
  }
  std::optional<net::SocketAddress> parsed = net::SocketAddress::Parse(address);
  if (!parsed.has_value()) {
    return reader.Error("address",
                        fmt::format("'{}' is not an IP:port (IPv6 in brackets)", address));
  }
  listener.address = *parsed;

  std::vector<std::string> protocols = {"http", "socks5"};
  if (auto status = reader.ReadStringList("protocols", &protocols); !status.ok()) {
    return status;
  }
  listener.http = false;
  listener.socks5 = false;
  for (const std::string& protocol : protocols) {
    if (protocol == "http") {
      listener.http = true;
    } else if (protocol == "socks5") {
      listener.socks5 = true;
    } else {
      return reader.Error("protocols", fmt::format("'{}' is not \"http\" or \"socks5\"", protocol));
    }
  }
  if (!listener.http && !listener.socks5) {
    return reader.Error("protocols", "names no protocol");
  }

  std::string pool(routing::PoolName(listener.pool));
  if (auto status = reader.ReadString("pool", &pool); !status.ok()) {
    return status;
  }
  std::optional<routing::Pool> parsed_pool = routing::ParsePool(pool);
  if (!parsed_pool.has_value()) {
    return reader.Error("pool",
                        fmt::format("'{}' is not residential, datacenter, isp or mobile", pool));
  }
  listener.pool = *parsed_pool;

  config->listeners.push_back(listener);
  return reader.RejectUnknownKeys();
}

absl::Status ReadAccount(TableReader& reader, Config* config) {
  AccountSpec account;
  std::string password;
  std::string digest;
  for (absl::Status status : {
           reader.ReadString("name", &account.name),
           reader.ReadString("password", &password),
           reader.ReadString("password_sha256", &digest),
       }) {
    if (!status.ok()) {
      return status;
    }
  }
  if (account.name.empty()) {
    return reader.Error("name", "is required");
  }
  if (password.empty() == digest.empty()) {
    return reader.Error("", fmt::format("account '{}' needs exactly one of password and "
                                        "password_sha256",
                                        account.name));
  }
  if (!digest.empty()) {
    if (!ParsePasswordDigest(digest, &account.password_digest)) {
      return reader.Error("password_sha256", "must be 64 hex digits");
    }
  } else {
    account.password_digest = DigestPassword(password);
  }
  config->accounts.push_back(std::move(account));
  return reader.RejectUnknownKeys();
}

absl::Status ReadExits(TableReader& reader, std::string_view base_directory, Config* config) {
  for (absl::Status status : {
           reader.ReadString("file", &config->exits_file),
           reader.ReadString("inline", &config->exits_inline_csv),
       }) {
    if (!status.ok()) {
      return status;
    }
  }
  if (config->exits_file.empty() == config->exits_inline_csv.empty()) {
    return reader.Error("", "needs exactly one of file and inline");
  }
  if (!config->exits_file.empty() && config->exits_file.front() != '/' && !base_directory.empty()) {
    config->exits_file = fmt::format("{}/{}", base_directory, config->exits_file);
  }
  return reader.RejectUnknownKeys();
}

// Runs `read` on the sub-table `name` if present; a non-table there is an error.
template <typename ReadFunction>
absl::Status ReadSection(const toml::table& root, std::string_view name, Config* config,
                         ReadFunction read) {
  const toml::node* node = root.get(name);
  if (node != nullptr && !node->is_table()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: [{}] must be a table", config->origin, name));
  }
  TableReader reader(node == nullptr ? nullptr : node->as_table(), std::string(name), *config);
  return read(reader, config);
}

template <typename ReadFunction>
absl::Status ReadArrayOfTables(const toml::table& root, std::string_view name, Config* config,
                               ReadFunction read) {
  const toml::node* node = root.get(name);
  if (node == nullptr) {
    return absl::OkStatus();
  }
  const toml::array* array = node->as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: {} must be written as [[{}]] tables", config->origin, name, name));
  }
  for (size_t i = 0; i < array->size(); ++i) {
    TableReader reader(array->get(i)->as_table(), fmt::format("{}[{}]", name, i), *config);
    if (absl::Status status = read(reader, config); !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

absl::Status ReadAll(const toml::table& root, std::string_view base_directory, Config* config) {
  for (auto&& [key, node] : root) {
    static constexpr std::string_view kSections[] = {
        "server", "timeouts", "limits", "policy", "sticky", "dns", "listener", "account", "exits"};
    if (std::find(std::begin(kSections), std::end(kSections), key.str()) == std::end(kSections)) {
      return absl::InvalidArgumentError(
          fmt::format("{}: unknown section '{}'", config->origin, key.str()));
    }
  }

  for (absl::Status status : {
           ReadSection(root, "server", config, ReadServer),
           ReadSection(root, "timeouts", config, ReadTimeouts),
           ReadSection(root, "limits", config, ReadLimits),
           ReadSection(root, "policy", config, ReadPolicy),
           ReadSection(root, "sticky", config, ReadSticky),
           ReadSection(root, "dns", config, ReadDns),
           ReadArrayOfTables(root, "listener", config, ReadListener),
           ReadArrayOfTables(root, "account", config, ReadAccount),
           ReadSection(root, "exits", config,
                       [base_directory](TableReader&reader, Config*c) {
                         return ReadExits(reader, base_directory, c);
                       }),
       }) {
    if (!status.ok()) {
      return status;
    }
  }

  if (config->listeners.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: no [[listener]]: the daemon would accept nothing", config->origin));
  }
  if (config->accounts.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: no [[account]]: every client would be refused", config->origin));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<uint32_t> ParseTtl(std::string_view text) {
  if (text.size() < 2) {
    return absl::InvalidArgumentError(fmt::format("ttl '{}' is not a number and m, h or d", text));
  }
  uint64_t number = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9' || number > 100'000) {
      return absl::InvalidArgumentError(
          fmt::format("ttl '{}' is not a number and m, h or d", text));
    }
    number = number * 10 + static_cast<uint64_t>(c - '0');
  }
  uint64_t unit_s = 0;
  switch (text.back()) {
    case 'm':
      unit_s = 60;
      break;
    case 'h':
      unit_s = 3600;
      break;
    case 'd':
      unit_s = 86'400;
      break;
    default:
      return absl::InvalidArgumentError(
          fmt::format("ttl '{}' is not a number and m, h or d", text));
  }
  uint64_t seconds = number * unit_s;
  if (seconds < 60 || seconds > 86'400) {
    return absl::InvalidArgumentError(fmt::format("ttl {} out of range (1m..24h)", text));
  }
  return static_cast<uint32_t>(seconds);
}

absl::StatusOr<Config> ParseConfig(std::string_view toml_text, std::string_view origin,
                                   std::string_view base_directory) {
  Config config;
  config.origin = std::string(origin);
  toml::table root;
  try {
    root = toml::parse(toml_text, origin);
  } catch (const toml::parse_error& error) {
    return absl::InvalidArgumentError(fmt::format("{}:{}:{}: {}", origin, error.source().begin.line,
                                                  error.source().begin.column,
                                                  error.description()));
  }
  if (absl::Status status = ReadAll(root, base_directory, &config); !status.ok()) {
    return status;
  }
  // Like the exits file, a relative access-log path is taken from the configuration's folder,
  // not from wherever the daemon happens to be started.
  if (!config.access_log.empty() && config.access_log != "-" && config.access_log[0] != '/' &&
      !base_directory.empty()) {
    config.access_log = fmt::format("{}/{}", base_directory, config.access_log);
  }
  return config;
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    return absl::NotFoundError(fmt::format("{}: cannot open the configuration file", path));
  }
  std::stringstream text;
  text << file.rdbuf();
  size_t slash = path.rfind('/');
  std::string directory = slash == std::string::npos ? "." : path.substr(0, slash);
  return ParseConfig(text.str(), path, directory);
}

std::string_view DefaultConfigText() { return kDefaultConfigText; }

Config DefaultConfig() {
  absl::StatusOr<Config> config = ParseConfig(kDefaultConfigText, "built-in default", "");
  // The text is a constant tested by config_test; failing here is a build defect.
  if (!config.ok()) {
    std::fprintf(stderr, "built-in configuration is invalid: %s\n",
                 std::string(config.status().message()).c_str());
    std::abort();
  }
  return *std::move(config);
}

std::string DescribeConfig(const Config& config) {
  std::string text = fmt::format("configuration {}:\n", config.origin);
  unsigned cores = std::thread::hardware_concurrency();
  text += fmt::format("  shards: {}{}\n", config.shards == 0 ? cores : config.shards,
                      config.shards == 0 ? " (one per CPU)" : "");
  text +=
      fmt::format("  relay: {}, pipe size {} bytes, {} idle pipes per shard\n",
                  net::RelayStrategyName(config.relay), config.pipe_size, config.pipe_pool_idle);
  for (const ListenerConfig& listener : config.listeners) {
    text += fmt::format("  listener {}: {}{}{}, pool {}\n", listener.address.ToString(),
                        listener.http ? "http" : "", listener.http && listener.socks5 ? "+" : "",
                        listener.socks5 ? "socks5" : "", routing::PoolName(listener.pool));
  }
  text += fmt::format("  accounts: {}\n", config.accounts.size());
  text +=
      fmt::format("  exits: {}\n", config.exits_file.empty() ? "inline CSV" : config.exits_file);
  text += fmt::format("  timeouts: handshake {} ms, connect {} ms, idle {} ms, drain {} ms\n",
                      config.handshake_ms, config.connect_ms, config.idle_ms, config.drain_ms);
  text += fmt::format("  limits: header {} bytes, tunnels {}\n", config.max_header_bytes,
                      config.max_tunnels == 0 ? std::string("from the open-file limit")
                                              : std::to_string(config.max_tunnels));
  text += fmt::format("  policy: private targets {}\n",
                      config.policy.allow_private ? "ALLOWED" : "refused");
  text += fmt::format("  sticky: default ttl {} s, capacity {} sessions\n",
                      config.sticky_default_ttl_s, config.sticky_capacity);
  text += fmt::format("  access log: {}\n", config.access_log.empty() ? "off" : config.access_log);
  return text;
}

}  // namespace strait::core
