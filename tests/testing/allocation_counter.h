#pragma once

// Counts heap allocations in a test or benchmark binary. Linking //tests/testing:allocation_counter
// replaces the global operator new (every form) with one that counts each call, so "allocates
// nothing" can be measured: read AllocationCount() before and after the code under test.
//
// Only for binaries that exist to measure allocations: the replacement is process-wide, and under
// ASan it takes the place of ASan's own operator new (mismatched new/delete go unreported). Link
// such a cc_test with `linkstatic = True`: linked as a shared library, the replacement loses to
// the one in a sanitizer's runtime.

#include <cstdint>

namespace strait::testing {

// Number of operator new calls, of any form, since the process started. Thread-safe.
uint64_t AllocationCount();

}  // namespace strait::testing
