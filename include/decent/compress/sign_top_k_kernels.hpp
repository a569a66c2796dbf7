#pragma once
/// @file
/// @brief The kernels of the sign-and-norm and top-k compressors (compress/sign.hpp, compress/top_k.hpp).
///
/// Each piece of math is written once, as a trivially copyable functor with a `DECENT_HD` call operator taking
/// an element (or row) index; `exec::host` runs it in a loop, `exec::cuda` in a kernel.

#include <cmath>
#include <cstddef>
#include <cstdint>

#include <decent/core/config.hpp>

namespace decent::detail {

/// |v[i]| in double.
template <class T>
struct abs_term {
  const T* v;
  DECENT_HD double operator()(std::size_t i) const {
    const double x = static_cast<double>(v[i]);
    return x < 0 ? -x : x;
  }
};

/// Word w of a sign bitmap: bit b set when v[32w + b] ≥ 0.
template <class T>
struct pack_signs_kernel {
  const T* v;
  std::size_t n;
  std::uint32_t* words;
  DECENT_HD void operator()(std::size_t w) const {
    std::uint32_t bits = 0;
    for (std::size_t b = 0; b < 32 && 32 * w + b < n; ++b)
      if (v[32 * w + b] >= T(0)) bits |= std::uint32_t{1} << b;
    words[w] = bits;
  }
};

/// dst[i] += coef·scale·(±1 from bit i of the sign bitmap); scale is read from executor memory.
template <class T>
struct add_signs_kernel {
  T* dst;
  const T* scale;
  const std::uint32_t* words;
  double coef;
  DECENT_HD void operator()(std::size_t i) const {
    const bool positive = (words[i / 32] >> (i % 32)) & 1u;
    dst[i] = static_cast<T>(static_cast<double>(dst[i]) + coef * static_cast<double>(*scale) * (positive ? 1.0 : -1.0));
  }
};

/// dst[index[m]] += coef·value[m] (indices distinct).
template <class T>
struct scatter_add_kernel {
  T* dst;
  const std::uint32_t* index;
  const T* value;
  double coef;
  DECENT_HD void operator()(std::size_t m) const {
    dst[index[m]] = static_cast<T>(static_cast<double>(dst[index[m]]) + coef * static_cast<double>(value[m]));
  }
};

}  // namespace decent::detail
