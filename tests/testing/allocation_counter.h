#pragma once

// Counts global operator new calls, so tests and benchmarks can check that code "allocates
// nothing". Linking this library replaces the global operator new/delete of the whole binary.
//
//   uint64_t before = strait::testing::AllocationCount();
//   ParseSomething(...);
//   EXPECT_EQ(strait::testing::AllocationCount() - before, 0u);

#include <cstdint>

namespace strait::testing {

// Number of operator new calls (all forms) since the program started, from every thread.
uint64_t AllocationCount();

}  // namespace strait::testing
