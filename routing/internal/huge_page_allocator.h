#pragma once

// An allocator for the large arrays selection reads at random (index rows and lists, the
// affinity table's buckets): blocks of 2 MiB and more are 2 MiB aligned and marked
// MADV_HUGEPAGE, so that with transparent huge pages in `madvise` mode (Debian's default) a
// random read costs a cache miss but rarely a page walk. Smaller blocks come from operator new.
// Measured on a 1M-exit fleet: see bench/README.md, "Exit selection and the affinity table".

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>

namespace strait::routing::internal {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

inline void* AllocateMaybeHuge(size_t bytes, size_t alignment) {
  if (bytes < kHugePageBytes) {
    return ::operator new(bytes, std::align_val_t(alignment));
  }
  size_t rounded = (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  void* memory = std::aligned_alloc(kHugePageBytes, rounded);
  if (memory == nullptr) {
    throw std::bad_alloc();
  }
  // Advice only: without transparent huge pages the memory is simply made of small pages.
  madvise(memory, rounded, MADV_HUGEPAGE);
  return memory;
}

inline void FreeMaybeHuge(void* memory, size_t bytes, size_t alignment) {
  if (bytes < kHugePageBytes) {
    ::operator delete(memory, std::align_val_t(alignment));
  } else {
    std::free(memory);
  }
}

template <typename T>
struct HugePageAllocator {
  using value_type = T;

  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) {}  // NOLINT: allocators convert implicitly

  T* allocate(size_t count) {
    return static_cast<T*>(AllocateMaybeHuge(count * sizeof(T), alignof(T)));
  }
  void deallocate(T* memory, size_t count) { FreeMaybeHuge(memory, count * sizeof(T), alignof(T)); }

  friend bool operator==(const HugePageAllocator&, const HugePageAllocator&) { return true; }
};

}  // namespace strait::routing::internal
