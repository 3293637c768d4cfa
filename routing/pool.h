#pragma once

// Exit pools. A listener serves one pool by default; an exit belongs to exactly one.

#include <cstdint>
#include <optional>
#include <string_view>

namespace strait::routing {

enum class Pool : uint8_t {
  kResidential = 0,
  kDatacenter = 1,
  kIsp = 2,
  kMobile = 3,
};

inline constexpr int kPoolCount = 4;

// "residential", "datacenter", "isp", "mobile".
std::string_view PoolName(Pool pool);

// Accepts the names above in any letter case; nullopt for anything else.
std::optional<Pool> ParsePool(std::string_view name);

}  // namespace strait::routing
