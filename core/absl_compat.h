#pragma once

// Debian's abseil 20220623 is built with its own absl::string_view, not an alias of
// std::string_view (ABSL_OPTION_USE_STD_STRING_VIEW is 0), so the two do not convert implicitly.
// Strait uses std::string_view throughout and converts at the abseil boundary with this helper;
// messages are formatted with fmt rather than absl::StrCat for the same reason.

#include <string_view>

#include "absl/strings/string_view.h"

namespace strait {

inline absl::string_view AbslView(std::string_view view) {
  return absl::string_view(view.data(), view.size());
}

}  // namespace strait
