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

/// |v[i]| in double, without a branch (fabs clears the sign bit; a branch on the signs of real data mispredicts
/// and took a third of a choco-sign run). The sums of these terms have the bits of x < 0 ? −x : x, −0 included
/// (sums start at +0); only a NaN's sign bit differs.
template <class T>
struct abs_term {
  const T* v;
  DECENT_HD double operator()(std::size_t i) const { return fabs(static_cast<double>(v[i])); }
};

/// ±1.0 for each bit of a nibble, lowest bit first: signs[m][l] = bit l of m ? 1 : −1.
struct nibble_signs {
  double s[16][4];
};
constexpr nibble_signs make_nibble_signs() {
  nibble_signs t{};
  for (int m = 0; m < 16; ++m)
    for (int l = 0; l < 4; ++l) t.s[m][l] = ((m >> l) & 1) ? 1.0 : -1.0;
  return t;
}
/// The host's table for decoding a word of signs four lanes at a time (512 bytes, in L1).
inline constexpr nibble_signs host_nibble_signs = make_nibble_signs();

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

/// dst[i] += coef·scale·(±1 from bit i of the sign bitmap), i < n, for the Block elements of item k: Block = 1,
/// element k (the device form: neighbouring threads touch neighbouring elements); Block = 32, the elements of
/// word k (the host form: the word is read once, and a full word is decoded a nibble at a time through a table of
/// ±1, four updates to a vector). The scale is read from executor memory. The same bits either way, and as
/// coef·scale·(±1): multiplying by ±1 is exact.
template <class T, std::size_t Block = 1>
struct add_signs_kernel {
  static_assert(Block == 1 || Block == 32, "add_signs_kernel: an item is one element or one word of 32");
  T* dst;
  const T* scale;
  const std::uint32_t* words;
  double coef;
  std::size_t n;
  DECENT_HD static constexpr std::size_t items(std::size_t elements) { return (elements + Block - 1) / Block; }
  /// Elements per item, for the host executor's parallel threshold (words only: element items form SIMD loops).
  [[nodiscard]] std::size_t work_per_item() const requires(Block > 1) { return Block; }
  DECENT_HD void operator()(std::size_t k) const {
    const double c = coef * static_cast<double>(*scale);
    if constexpr (Block == 1) {
      dst[k] = add(dst[k], (words[k / 32] >> (k % 32)) & 1u, c);
    } else {
      const std::uint32_t word = words[k];
      T* const out = dst + 32 * k;
      if (32 * k + 32 <= n) {
#if defined(__CUDA_ARCH__)
        for (std::uint32_t b = 0; b < 32; ++b) out[b] = add(out[b], (word >> b) & 1u, c);
#else
        // A nibble at a time from the table: no per-lane shift (which SSE2 lacks), the same ±1 as `add`.
        for (std::uint32_t q = 0; q < 8; ++q) {
          const double* sign = host_nibble_signs.s[(word >> (4 * q)) & 15u];
          T* const at = out + 4 * q;
          for (std::uint32_t l = 0; l < 4; ++l) at[l] = static_cast<T>(static_cast<double>(at[l]) + c * sign[l]);
        }
#endif
      } else {
        for (std::uint32_t b = 0; 32 * k + b < n; ++b) out[b] = add(out[b], (word >> b) & 1u, c);
      }
    }
  }
  /// v + c·(bit ? 1 : −1), without a branch (the signs of real data are unpredictable).
  DECENT_HD static T add(T v, std::uint32_t bit, double c) {
    return static_cast<T>(static_cast<double>(v) + c * static_cast<double>(2 * static_cast<int>(bit) - 1));
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
