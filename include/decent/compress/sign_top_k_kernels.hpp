#pragma once
/// @file
/// @brief The kernels of the sign-and-norm and top-k compressors (compress/sign.hpp, compress/top_k.hpp).
///
/// Each piece of math is written once, as a trivially copyable functor with a `DECENT_HD` call operator taking
/// an element (or row) index; `exec::host` runs it in a loop, `exec::cuda` in a kernel.

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <decent/core/config.hpp>
#include <decent/exec/kernels.hpp>

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

/// Block b of the sign encoding on the host (`block` elements, a multiple of 32): partial[b] = Σ |v[i]| over the
/// block in index order from 0 (block_sum of abs_term: exec::host::sum's partial), and the block's sign words,
/// while the block is in cache.
template <class T>
struct abs_sum_and_signs_kernel {
  const T* v;
  std::size_t n, block;
  std::uint32_t* words;
  double* partial;
  [[nodiscard]] std::size_t work_per_item() const { return block; }
  void operator()(std::size_t b) const {
    const std::size_t begin = b * block, end = n - begin < block ? n : begin + block;
    partial[b] = block_sum(abs_term<T>{v}, begin, end);
    const pack_signs_kernel<T> pack{v, n, words};
    for (std::size_t w = begin / 32; 32 * w < end; ++w) pack(w);
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
        // A nibble at a time from the table: no per-lane shift (which SSE2 lacks), the same ±1 as `add`; with the
        // GNU vector extensions, as four lanes in double (one AVX2 vector, two SSE2 ones), each lane `add`'s.
        for (std::uint32_t q = 0; q < 8; ++q) {
          const double* sign = host_nibble_signs.s[(word >> (4 * q)) & 15u];
          T* const at = out + 4 * q;
#if defined(DECENT_HOST_CONVERT_VECTORS)
          typedef T lanes __attribute__((vector_size(4 * sizeof(T))));
          typedef double wide __attribute__((vector_size(4 * sizeof(double))));
          lanes v;
          wide s;
          __builtin_memcpy(&v, at, sizeof v);
          __builtin_memcpy(&s, sign, sizeof s);
          const lanes sum = __builtin_convertvector(__builtin_convertvector(v, wide) + c * s, lanes);
          __builtin_memcpy(at, &sum, sizeof sum);
#else
          for (std::uint32_t l = 0; l < 4; ++l) at[l] = static_cast<T>(static_cast<double>(at[l]) + c * sign[l]);
#endif
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

/// The key that orders magnitudes: the bits of |v| (an unsigned integer of T's width, sign bit cleared). For IEEE
/// numbers the integers compare as the magnitudes do (−0 and +0 are one key); a NaN's key is above infinity's.
template <class T>
using magnitude_key_t = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
template <class T>
magnitude_key_t<T> magnitude_key(T v) {
  static_assert(std::is_floating_point_v<T> && (sizeof(T) == 4 || sizeof(T) == 8), "magnitude_key: float or double");
  using K = magnitude_key_t<T>;
  return std::bit_cast<K>(v) & ~(K{1} << (8 * sizeof(K) - 1));
}

/// Chunk c of top-k's collecting pass (host only): the indices i of [c·chunk, min(n, (c+1)·chunk)) in ascending
/// order whose magnitude key reaches `floor`, the first `room` of them at found[c·room…], and their number (which
/// may exceed `room`: the caller then falls back) at count[c].
template <class T>
struct collect_at_least_kernel {
  const T* v;
  std::size_t n, chunk, room;
  magnitude_key_t<T> floor;
  std::uint32_t* found;
  std::size_t* count;
  [[nodiscard]] std::size_t work_per_item() const { return chunk; }
  void operator()(std::size_t c) const {
    std::uint32_t* const out = found + c * room;
    const std::size_t end = n - c * chunk < chunk ? n : (c + 1) * chunk;
    std::size_t m = 0;
    for (std::size_t i = c * chunk; i < end; ++i)
      if (magnitude_key(v[i]) >= floor) {
        if (m < room) out[m] = static_cast<std::uint32_t>(i);
        ++m;
      }
    count[c] = m;
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
