#pragma once

// The exits file: CSV with a header line, one exit per line, meant to be produced by an
// operator's script and to stay readable at a million lines.
//
//   # id,pool,country,state,city,zip,asn,capacity,weight,egress
//   id,pool,country,state,city,zip,asn,capacity,weight,egress
//   dc-lon-1,datacenter,gb,,london,,AS16509,500,2,direct:127.0.0.2
//   res-7,residential,us,florida,orlando,32808,7018,,,socks5://user:secret@127.0.0.1:1080
//   res-8,residential,us,,,,,,,http://127.0.0.1:8080
//
// - The header names the columns, in any order and any letter case. `id` and `pool` are
//   required; the others are optional (state, city, zip, country, asn, capacity, weight,
//   egress, healthy). An unknown column is an error.
// - Fields are separated by `,` and trimmed of spaces and tabs; there is no quoting (no field
//   needs a comma; in egress credentials write `%2C`). Empty fields take the default: no
//   place, ASN 0 (unknown), capacity 0 (unlimited), weight 1, healthy, direct egress from the
//   kernel's choice of source.
// - asn: a number, optionally written `AS7018`. healthy: true/false, yes/no, up/down, 1/0.
// - egress: `direct`, `direct:127.0.0.2`, `direct:[::1]`, `http://[user:pass@]host:port`,
//   `socks5://[user:pass@]host:port`; user and password may hold %-escapes.
// - Lines starting with `#` (after optional spaces) and blank lines are ignored; CRLF is fine.
//
// A bad line fails the whole file with "exits.csv:17: asn 'x' is not a number"; nothing is
// applied. Duplicate ids are an error naming both lines.

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "routing/exit.h"

namespace strait::routing {

// Reads and parses the file at `path`; error messages start with the path.
absl::StatusOr<std::vector<ExitSpec>> ParseExitsFile(std::string_view path);

// Parses file contents; error messages start with `source_name` (e.g. the path, or "admin").
absl::StatusOr<std::vector<ExitSpec>> ParseExitsText(std::string_view text,
                                                     std::string_view source_name);

// Parses one egress field (the forms listed above); the error message names the text.
absl::StatusOr<Egress> ParseEgress(std::string_view text);

}  // namespace strait::routing
