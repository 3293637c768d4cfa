#include "core/config.h"

#include <string>

#include "gtest/gtest.h"

namespace strait::core {
namespace {

constexpr std::string_view kMinimal = R"toml(
[[listener]]
address = "127.0.0.1:8000"

[[account]]
name = "alice"
password = "pw"

[exits]
file = "exits.csv"
)toml";

std::string Message(const absl::Status& status) { return std::string(status.message()); }

TEST(Config, BuiltInDefaultParsesAndServesTheDemo) {
  Config config = DefaultConfig();
  ASSERT_EQ(config.listeners.size(), 1u);
  EXPECT_EQ(config.listeners[0].address.ToString(), "127.0.0.1:8000");
  EXPECT_TRUE(config.listeners[0].http);
  EXPECT_TRUE(config.listeners[0].socks5);
  ASSERT_EQ(config.accounts.size(), 1u);
  EXPECT_EQ(config.accounts[0].name, "demo");
  EXPECT_EQ(config.accounts[0].password_digest, DigestPassword("demo"));
  EXPECT_TRUE(config.policy.allow_private);
  EXPECT_NE(config.exits_inline_csv.find("direct:127.0.0.2"), std::string::npos);
}

TEST(Config, MinimalFileGetsSafeDefaults) {
  absl::StatusOr<Config> config = ParseConfig(kMinimal, "strait.toml", "/etc/strait");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->policy.allow_private);
  EXPECT_EQ(config->relay, net::RelayStrategy::kPollSplice);
  EXPECT_EQ(config->exits_file, "/etc/strait/exits.csv");
  EXPECT_EQ(config->sticky_default_ttl_s, 600u);
}

TEST(Config, RelativeAccessLogIsTakenFromTheConfigurationFolder) {
  std::string text = std::string(kMinimal) + "[server]\naccess_log = \"logs/access.log\"\n";
  absl::StatusOr<Config> config = ParseConfig(text, "strait.toml", "/etc/strait");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->access_log, "/etc/strait/logs/access.log");

  text = std::string(kMinimal) + "[server]\naccess_log = \"-\"\n";
  EXPECT_EQ(ParseConfig(text, "strait.toml", "/etc/strait")->access_log, "-");
}

struct BadConfig {
  std::string name;
  std::string extra;
  std::string message;
};

class ConfigErrors : public ::testing::TestWithParam<BadConfig> {};

TEST_P(ConfigErrors, NamesTheKeyAndWhatIsWrong) {
  std::string text = std::string(kMinimal) + GetParam().extra;
  absl::StatusOr<Config> config = ParseConfig(text, "strait.toml", "");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(Message(config.status()).find(GetParam().message), std::string::npos)
      << Message(config.status());
}

INSTANTIATE_TEST_SUITE_P(
    Rejected, ConfigErrors,
    ::testing::Values(
        BadConfig{"UnknownKey", "[server]\nshard = 2\n", "strait.toml: server.shard: unknown key"},
        BadConfig{"UnknownSection", "[sever]\n", "unknown section 'sever'"},
        BadConfig{"BadRelay", "[server]\nrelay = \"fast\"\n", "server.relay: 'fast' is not"},
        BadConfig{"ShardsOutOfRange", "[server]\nshards = 1000\n", "out of range [0, 256]"},
        BadConfig{"WrongType", "[timeouts]\nidle_ms = \"5s\"\n", "idle_ms: must be an integer"},
        BadConfig{"TtlTooLong", "[sticky]\ndefault_ttl = \"25h\"\n",
                  "sticky.default_ttl: ttl 25h out of range (1m..24h)"},
        BadConfig{"BadPort", "[policy]\ndenied_ports = [0]\n", "port numbers 1..65535"},
        BadConfig{"BadListener", "[[listener]]\naddress = \"localhost:80\"\n",
                  "listener[1].address: 'localhost:80' is not an IP:port"},
        BadConfig{"BadPool", "[[listener]]\naddress = \"127.0.0.1:1\"\npool = \"cloud\"\n",
                  "'cloud' is not residential, datacenter, isp or mobile"},
        BadConfig{"TwoPasswords",
                  "[[account]]\nname = \"bob\"\npassword = \"x\"\npassword_sha256 = \"" +
                      std::string(64, 'a') + "\"\n",
                  "needs exactly one of password and password_sha256"},
        BadConfig{"SyntaxError", "[server\n", "strait.toml:"}),
    [](const ::testing::TestParamInfo<BadConfig>& info) { return info.param.name; });

TEST(Config, RequiresListenersAccountsAndExits) {
  EXPECT_NE(Message(ParseConfig("[exits]\nfile = \"e.csv\"\n", "x.toml", "").status())
                .find("no [[listener]]"),
            std::string::npos);
  std::string no_exits =
      "[[listener]]\naddress = \"127.0.0.1:1\"\n[[account]]\nname = \"a\"\n"
      "password = \"b\"\n";
  EXPECT_NE(Message(ParseConfig(no_exits, "x.toml", "").status()).find("exits"), std::string::npos);
}

TEST(Config, TtlUsesTheRoutingGrammarsUnits) {
  EXPECT_EQ(*ParseTtl("1m"), 60u);
  EXPECT_EQ(*ParseTtl("2h"), 7200u);
  EXPECT_EQ(*ParseTtl("1d"), 86400u);
  EXPECT_FALSE(ParseTtl("0m").ok());
  EXPECT_FALSE(ParseTtl("2d").ok());
  EXPECT_FALSE(ParseTtl("10s").ok());
  EXPECT_FALSE(ParseTtl("h").ok());
}

}  // namespace
}  // namespace strait::core
