#include "tests/testing/allocation_counter.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace strait::testing {
namespace {

std::atomic<uint64_t> allocation_count{0};

void* CountedAllocate(std::size_t size) {
  allocation_count.fetch_add(1, std::memory_order_relaxed);
  void* pointer = std::malloc(size == 0 ? 1 : size);
  if (pointer == nullptr) {
    throw std::bad_alloc();
  }
  return pointer;
}

}  // namespace

uint64_t AllocationCount() { return allocation_count.load(std::memory_order_relaxed); }

bool AllocationCounterIsLive() {
  uint64_t before = AllocationCount();
  // A volatile pointer keeps the compiler from eliding the new/delete pair.
  int* volatile probe = new int(1);
  delete probe;
  return AllocationCount() > before;
}

}  // namespace strait::testing

// Only the plain forms are replaced; the array and nothrow forms of libstdc++ forward to them.
// Aligned forms are left alone: nothing measured here uses over-aligned types.
void* operator new(std::size_t size) { return strait::testing::CountedAllocate(size); }
void operator delete(void* pointer) noexcept { std::free(pointer); }
void operator delete(void* pointer, std::size_t) noexcept { std::free(pointer); }
