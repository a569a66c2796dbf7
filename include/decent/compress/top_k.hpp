#pragma once
/// @file
/// @brief Top-k sparsification (Choco-SGD's baseline, docs/algorithms.md §3.4): per tensor, keep the k = ⌈f·n⌉
/// entries of largest magnitude (ties to the lower index), as indices and values. A non-linear vector compressor.
///
/// Message of a tensor: k 32-bit indices (ascending), padded to a multiple of sizeof(T), then k values:
/// 4k (+ padding) + k·sizeof(T) bytes. The selection runs on the host: with the CUDA executor the tensor is
/// copied to the host and the message back (a baseline, not a tuned kernel); decoding is one scatter on the
/// executor.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <vector>

#include <decent/compress/compressor.hpp>
#include <decent/core/error.hpp>
#include <decent/core/fingerprint.hpp>
#include <decent/core/tensor.hpp>
#include <decent/compress/sign_top_k_kernels.hpp>
#include <decent/exec/executor.hpp>
#include <decent/exec/host.hpp>

namespace decent::compress {

/// Options of top-k sparsification.
struct top_k_options {
  double fraction = 0.01;  ///< f in (0, 1]: share of each tensor's entries that is sent
};

inline void add_to(fingerprint& f, const top_k_options& o) { f.add(o.fraction); }

/// The k largest-magnitude entries of each tensor.
template <exec::executor Exec, class T>
class top_k {
 public:
  using compressor_concept = compressor_tag;
  static constexpr bool stateless = true;
  using value_type = T;
  using executor_type = Exec;
  using options = top_k_options;
  static constexpr bool is_linear = false;

  explicit top_k(options o = {}) : o_(o) {
    expects(o_.fraction > 0 && o_.fraction <= 1, "top-k fraction must be in (0, 1], got ", o_.fraction);
  }

  /// Entries kept of a tensor of n elements.
  [[nodiscard]] std::size_t kept(std::size_t n) const {
    return n == 0 ? 0 : std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(o_.fraction * static_cast<double>(n))));
  }
  [[nodiscard]] std::size_t message_bytes(const shape& s) const {
    const std::size_t k = kept(s.numel());
    return values_offset(k) + k * sizeof(T);
  }

  void encode(const Exec& ex, tensor_view<T> v, std::byte* message) const {
    const std::size_t n = v.numel(), k = kept(n);
    values_.resize(n);
    ex.download(values_.data(), v.data, n);
    order_.resize(n);
    std::iota(order_.begin(), order_.end(), std::uint32_t{0});
    const auto larger = [&](std::uint32_t a, std::uint32_t b) {
      const T ma = std::abs(values_[a]), mb = std::abs(values_[b]);
      return ma > mb || (ma == mb && a < b);
    };
    std::nth_element(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(k), order_.end(), larger);
    std::sort(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(k));
    packed_.assign(message_bytes(v.shape), std::byte{0});
    auto* index = reinterpret_cast<std::uint32_t*>(packed_.data());
    auto* value = reinterpret_cast<T*>(packed_.data() + values_offset(k));
    for (std::size_t m = 0; m < k; ++m) {
      index[m] = order_[m];
      value[m] = values_[order_[m]];
    }
    ex.upload(message, packed_.data(), packed_.size());
    ex.synchronize();  // the host staging buffer is reused by the next call
  }

  void decode_add(const Exec& ex, const std::byte* message, double coef, tensor_view<T> dst) const {
    const std::size_t k = kept(dst.numel());
    ex.for_each(k, decent::detail::scatter_add_kernel<T>{dst.data, reinterpret_cast<const std::uint32_t*>(message),
                                                         reinterpret_cast<const T*>(message + values_offset(k)), coef});
  }

 private:
  static std::size_t values_offset(std::size_t k) { return (4 * k + sizeof(T) - 1) / sizeof(T) * sizeof(T); }

  options o_;
  mutable std::vector<T> values_;            // host staging (encode is const for the concept; not thread-safe)
  mutable std::vector<std::uint32_t> order_;
  mutable std::vector<std::byte> packed_;
};

static_assert(vector_compressor<top_k<exec::host, float>>);

}  // namespace decent::compress
