#include "routing/exit_file.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "gtest/gtest.h"

namespace strait::routing {
namespace {

std::string Message(const absl::Status& status) {
  return std::string(status.message().data(), status.message().size());
}

TEST(ExitFile, ParsesEveryColumnAndEgressForm) {
  constexpr std::string_view kText =
      "# exported by the fleet tool\n"
      "id,pool,country,state,city,zip,asn,capacity,weight,egress,healthy\n"
      "\n"
      "dc-lon-1, datacenter ,GB,,london,,AS16509,500,2,direct:127.0.0.2,\n"
      "res-7,residential,us,florida,orlando,32808,7018,,,socks5://"
      "us%40er:p%2Cw@127.0.0.1:1080,down\n"
      "  # a comment after spaces\r\n"
      "res-8,isp,us,,,,,,,http://[::1]:8080,yes\r\n"
      "m-1,mobile,,,,,,,,direct:[::1],\n"
      "m-2,mobile,,,,,,,,,\n";

  absl::StatusOr<std::vector<ExitSpec>> specs = ParseExitsText(kText, "exits.csv");
  ASSERT_TRUE(specs.ok()) << specs.status();
  ASSERT_EQ(specs->size(), 5u);

  const ExitSpec& dc = (*specs)[0];
  EXPECT_EQ(dc.id, "dc-lon-1");
  EXPECT_EQ(dc.pool, Pool::kDatacenter);
  EXPECT_EQ(dc.country, "GB");
  EXPECT_EQ(dc.city, "london");
  EXPECT_EQ(dc.state, "");
  EXPECT_EQ(dc.asn, 16509u);
  EXPECT_EQ(dc.capacity, 500u);
  EXPECT_EQ(dc.weight, 2u);
  EXPECT_TRUE(dc.healthy);
  EXPECT_EQ(dc.egress.kind, EgressKind::kDirect);
  ASSERT_EQ(dc.egress.source_len, sizeof(sockaddr_in));
  EXPECT_EQ(DescribeEgress(dc.egress), "direct:127.0.0.2");

  const ExitSpec& res = (*specs)[1];
  EXPECT_EQ(res.pool, Pool::kResidential);
  EXPECT_EQ(res.state, "florida");
  EXPECT_EQ(res.zip, "32808");
  EXPECT_EQ(res.capacity, 0u);
  EXPECT_EQ(res.weight, 1u);
  EXPECT_FALSE(res.healthy);
  EXPECT_EQ(res.egress.kind, EgressKind::kSocks5);
  EXPECT_EQ(res.egress.upstream_host, "127.0.0.1");
  EXPECT_EQ(res.egress.upstream_port, 1080);
  EXPECT_EQ(res.egress.upstream_username, "us@er");
  EXPECT_EQ(res.egress.upstream_password, "p,w");

  const ExitSpec& isp = (*specs)[2];
  EXPECT_EQ(isp.pool, Pool::kIsp);
  EXPECT_EQ(isp.egress.kind, EgressKind::kHttpConnect);
  EXPECT_EQ(isp.egress.upstream_host, "::1");
  EXPECT_EQ(DescribeEgress(isp.egress), "http://[::1]:8080");

  EXPECT_EQ((*specs)[3].egress.source_len, sizeof(sockaddr_in6));
  EXPECT_EQ(DescribeEgress((*specs)[3].egress), "direct:[::1]");
  EXPECT_EQ((*specs)[4].egress.source_len, 0u);
  EXPECT_EQ(DescribeEgress((*specs)[4].egress), "direct");
}

TEST(ExitFile, AcceptsColumnsInAnyOrderWithOnlyIdAndPoolRequired) {
  absl::StatusOr<std::vector<ExitSpec>> specs =
      ParseExitsText("POOL,Id\ndatacenter,a\nresidential,b\n", "x.csv");
  ASSERT_TRUE(specs.ok()) << specs.status();
  ASSERT_EQ(specs->size(), 2u);
  EXPECT_EQ((*specs)[0].id, "a");
  EXPECT_EQ((*specs)[0].pool, Pool::kDatacenter);
  EXPECT_EQ((*specs)[1].id, "b");
}

struct BadRow {
  std::string row;
  std::string message;
};

class ExitFileBadRowTest : public testing::TestWithParam<BadRow> {};

TEST_P(ExitFileBadRowTest, NamesTheLineAndTheProblem) {
  std::string text =
      "# header next\n"
      "id,pool,country,state,city,zip,asn,capacity,weight,egress\n"
      "ok-1,residential,us,,,,,,,\n" +
      GetParam().row + "\n" + "ok-2,residential,us,,,,,,,\n";
  absl::StatusOr<std::vector<ExitSpec>> specs = ParseExitsText(text, "exits.csv");
  ASSERT_FALSE(specs.ok());
  EXPECT_EQ(Message(specs.status()), "exits.csv:4: " + GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Rows, ExitFileBadRowTest,
    testing::Values(
        BadRow{"x,residential,us,,,,x,,,", "asn 'x' is not a number from 0 to 4294967295"},
        BadRow{"x,residential,us,,,,4294967296,,,",
               "asn '4294967296' is not a number from 0 to 4294967295"},
        BadRow{"x,moon,us,,,,,,,", "pool 'moon' is not residential, datacenter, isp or mobile"},
        BadRow{"x,residential,gbr,,,,,,,", "country 'gbr' is not two letters"},
        BadRow{"x,residential,,,london,,,,,", "city 'london' needs a country"},
        BadRow{"x,residential,us,,lon:don,,,,,",
               "city 'lon:don' is not 1 to 64 letters, digits, '-' or words joined by '_' or ' '"},
        BadRow{"x,residential,us,,,,,,0,", "weight 0 is not 1 to 65535"},
        BadRow{"x,residential,us,,,,,-1,,", "capacity '-1' is not a number from 0 to 4294967295"},
        BadRow{"x,residential", "2 fields, but the header has 10"},
        BadRow{"x y,residential,us,,,,,,,",
               "id 'x y' holds a byte other than letters, digits, '.', '_', ':' and '-'"},
        BadRow{",residential,us,,,,,,,", "id '' is not 1 to 128 bytes long"},
        BadRow{"ok-1,residential,us,,,,,,,", "id 'ok-1' already on line 3"},
        BadRow{"x,residential,us,,,,,,,ftp://h:1",
               "egress 'ftp://h:1' is not direct[:address], http://[user:pass@]host:port or "
               "socks5://[user:pass@]host:port"},
        BadRow{"x,residential,us,,,,,,,direct:300.1.1.1",
               "egress 'direct:300.1.1.1' does not name an IPv4 or IPv6 source address after "
               "'direct:'"},
        BadRow{"x,residential,us,,,,,,,http://127.0.0.1",
               "egress 'http://127.0.0.1' has no ':port'"},
        BadRow{"x,residential,us,,,,,,,http://127.0.0.1:0",
               "egress 'http://127.0.0.1:0' needs a host and a port from 1 to 65535"},
        BadRow{"x,residential,us,,,,,,,socks5://u:%zz@127.0.0.1:1080",
               "egress 'socks5://u:%zz@127.0.0.1:1080' has a bad %-escape in its credentials"},
        BadRow{"x,residential,us,,,,,,,http://a%3Ab:c@127.0.0.1:1",
               "http egress username must not contain ':'"}));

TEST(ExitFile, SplitsCredentialsAtTheFirstColon) {
  absl::StatusOr<Egress> egress = ParseEgress("http://a:b:c@127.0.0.1:1");
  ASSERT_TRUE(egress.ok()) << egress.status();
  EXPECT_EQ(egress->upstream_username, "a");
  EXPECT_EQ(egress->upstream_password, "b:c");

  absl::StatusOr<Egress> escaped = ParseEgress("socks5://a%3Ab:c@127.0.0.1:1");
  ASSERT_TRUE(escaped.ok()) << escaped.status();
  EXPECT_EQ(escaped->upstream_username, "a:b");  // fine for SOCKS5, which has a length byte
}

TEST(ExitFile, RejectsUnknownAndRepeatedColumnsAndMissingHeader) {
  EXPECT_EQ(Message(ParseExitsText("id,pool,colour\n", "f").status()),
            "f:1: unknown column 'colour' (known: id, pool, country, state, city, zip, asn, "
            "capacity, weight, egress, healthy)");
  EXPECT_EQ(Message(ParseExitsText("\n# c\nid,pool,id\n", "f").status()), "f:3: column 'id' twice");
  EXPECT_EQ(Message(ParseExitsText("id,city\n", "f").status()),
            "f:1: the header must name at least the columns 'id' and 'pool'");
  EXPECT_EQ(Message(ParseExitsText("# only comments\n\n", "f").status()),
            "f: no header line (e.g. 'id,pool,country,city,egress')");
}

TEST(ExitFile, ReadsAFileAndNamesItInErrors) {
  char path[] = "/tmp/strait_exits_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string text = "id,pool,asn\na,residential,1\nb,residential,nope\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);

  absl::StatusOr<std::vector<ExitSpec>> specs = ParseExitsFile(path);
  ASSERT_FALSE(specs.ok());
  EXPECT_EQ(Message(specs.status()),
            std::string(path) + ":3: asn 'nope' is not a number from 0 to 4294967295");
  unlink(path);

  absl::StatusOr<std::vector<ExitSpec>> missing = ParseExitsFile(path);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace strait::routing
