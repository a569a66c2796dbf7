#pragma once
// The STREAM triad a[i] = b[i] + s·c[i] (3 values per element), the bandwidth baseline of the benchmarks here.
#include <cstddef>

namespace decent::bench {

template <class T>
struct triad_kernel {
  T* a;
  const T* b;
  const T* c;
  T s;
  void operator()(std::size_t i) const { a[i] = b[i] + s * c[i]; }
};

}  // namespace decent::bench
