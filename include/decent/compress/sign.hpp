#pragma once
/// @file
/// @brief Sign-and-norm compression (Choco-SGD's baseline, docs/algorithms.md §3.4): C(v) = (‖v‖₁/numel)·sign(v),
/// per tensor, with the signs bit-packed (sign(0) counts as +). A non-linear vector compressor.
///
/// Message of a tensor of n elements: the scale (one T) followed by ⌈n/32⌉ 32-bit words of signs:
/// sizeof(T) + 4⌈n/32⌉ bytes. Encoding is one reduction and one pass; decoding one pass.

#include <cstddef>
#include <cstdint>

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
    const double scale = n ? ex.sum(n, decent::detail::abs_term<T>{v.data}) / static_cast<double>(n) : 0.0;
    exec::fill(ex, reinterpret_cast<T*>(message), static_cast<T>(scale), 1);
    ex.for_each(words(n), decent::detail::pack_signs_kernel<T>{v.data, n, bitmap(message)});
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
