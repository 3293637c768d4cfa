#pragma once

// Linking //bench/routing:counting_allocator replaces the global operator new and delete with
// versions that count allocations, so benchmarks can report allocations per operation.

#include <cstdint>

namespace strait::bench {

// Calls of any operator new since the program started, all threads together.
int64_t AllocationCount();

}  // namespace strait::bench
