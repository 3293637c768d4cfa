#include "core/error_token.h"

namespace strait {

std::string_view TunnelSideName(TunnelSide side) {
  switch (side) {
    case TunnelSide::kNone:
      return "none";
    case TunnelSide::kClient:
      return "client";
    case TunnelSide::kExit:
      return "exit";
    case TunnelSide::kTarget:
      return "target";
    case TunnelSide::kInternal:
      return "internal";
  }
  return "internal";
}

bool ErrorTokenFromReason(std::string_view reason, ErrorToken* token) {
  for (const ErrorTokenRow& row : kErrorTokenTable) {
    if (row.reason_token == reason) {
      *token = row.token;
      return true;
    }
  }
  return false;
}

}  // namespace strait
