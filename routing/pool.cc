#include "routing/pool.h"

#include "absl/strings/match.h"
#include "core/absl_compat.h"

namespace strait::routing {

std::string_view PoolName(Pool pool) {
  switch (pool) {
    case Pool::kResidential:
      return "residential";
    case Pool::kDatacenter:
      return "datacenter";
    case Pool::kIsp:
      return "isp";
    case Pool::kMobile:
      return "mobile";
  }
  return "unknown";
}

std::optional<Pool> ParsePool(std::string_view name) {
  for (int i = 0; i < kPoolCount; ++i) {
    Pool pool = static_cast<Pool>(i);
    if (absl::EqualsIgnoreCase(AbslView(name), AbslView(PoolName(pool)))) {
      return pool;
    }
  }
  return std::nullopt;
}

}  // namespace strait::routing
