#pragma once

// Counts global operator new calls, so tests and benchmarks can check that code "allocates
// nothing". Linking this library replaces the global operator new/delete of the whole binary.
//
//   uint64_t before = strait::testing::AllocationCount();
//   ParseSomething(...);
//   EXPECT_EQ(strait::testing::AllocationCount() - before, 0u);
//
// ASSERT_TRUE(AllocationCounterIsLive()) first: if another operator new won the link (a
// sanitizer runtime), every count would read 0 and the test would pass for nothing. Link such a
// cc_test with `linkstatic = True`: as a shared library the replacement loses to the one in a
// sanitizer's runtime. Under ASan it takes the place of ASan's own operator new, so mismatched
// new/delete go unreported in these binaries.

#include <cstdint>

namespace strait::testing {

// Number of operator new calls (all forms) since the program started, from every thread.
uint64_t AllocationCount();

// True when this library's operator new is the one in use, so a zero count means something.
// Tests that assert "no allocation" check this first.
bool AllocationCounterIsLive();

}  // namespace strait::testing
