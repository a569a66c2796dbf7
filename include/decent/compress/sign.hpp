#pragma once
/// @file
/// @brief Sign-and-norm compression (Choco-SGD's baseline, docs/algorithms.md §3.4): C(v) = (‖v‖₁/numel)·sign(v),
/// per tensor, with the signs bit-packed (sign(0) counts as +). A non-linear vector compressor.
///
/// Message of a tensor of n elements: the scale (one T) followed by ⌈n/32⌉ 32-bit words of signs:
/// sizeof(T) + 4⌈n/32⌉ bytes. Encoding reads v once on the host (a reduction and the packing, block by block) and
/// twice on a device (a reduction, then a pass); decoding is one pass.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <decent/compress/compressor.hpp>
#include <decent/core/tensor.hpp>
#include <decent/compress/sign_top_k_kernels.hpp>
#include <decent/exec/operations.hpp>
#include <decent/exec/executor.hpp>
#include <decent/exec/host.hpp>

namespace decent::compress {

/// Scaled signs.
template <exec::executor Exec, class T>
class sign {
 public:
  using compressor_concept = compressor_tag;
  static constexpr bool stateless = true;
  using value_type = T;
  using executor_type = Exec;
  struct options {};
  static constexpr bool is_linear = false;

  sign() = default;
  explicit sign(options) {}

  [[nodiscard]] std::size_t message_bytes(const shape& s) const { return sizeof(T) + 4 * words(s.numel()); }

  void encode(const Exec& ex, tensor_view<T> v, std::byte* message) const {
    const std::size_t n = v.numel();
    double l1 = 0;
    if constexpr (std::same_as<Exec, exec::host>) {
      // One pass: each block of ex.sum's partial sums is summed and packed while it is in cache; the partials
      // are then added as ex.sum adds them (in order from 0; one block is its own sum), so the same bits.
      constexpr std::size_t block = exec::host::reduction_block;
      static_assert(block % 32 == 0, "a reduction block holds whole sign words");
      std::vector<double> partial((n + block - 1) / block);
      ex.for_each(partial.size(), decent::detail::abs_sum_and_signs_kernel<T>{v.data, n, block, bitmap(message),
                                                                               partial.data()});
      if (partial.size() == 1) l1 = partial[0];
      else for (double p : partial) l1 += p;
    } else {
      l1 = ex.sum(n, decent::detail::abs_term<T>{v.data});
      ex.for_each(words(n), decent::detail::pack_signs_kernel<T>{v.data, n, bitmap(message)});
    }
    const double scale = n ? l1 / static_cast<double>(n) : 0.0;
    exec::fill(ex, reinterpret_cast<T*>(message), static_cast<T>(scale), 1);
  }

  void decode_add(const Exec& ex, const std::byte* message, double coef, tensor_view<T> dst) const {
    constexpr std::size_t block = Exec::space == memory_space::host ? 32 : 1;  // see add_signs_kernel
    using kernel = decent::detail::add_signs_kernel<T, block>;
    ex.for_each(kernel::items(dst.numel()),
                kernel{dst.data, reinterpret_cast<const T*>(message), bitmap(message), coef, dst.numel()});
  }

 private:
  static std::size_t words(std::size_t n) { return (n + 31) / 32; }
  static std::uint32_t* bitmap(std::byte* m) { return reinterpret_cast<std::uint32_t*>(m + sizeof(T)); }
  static const std::uint32_t* bitmap(const std::byte* m) { return reinterpret_cast<const std::uint32_t*>(m + sizeof(T)); }
};

static_assert(vector_compressor<sign<exec::host, float>>);

}  // namespace decent::compress
