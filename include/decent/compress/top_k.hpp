#pragma once
/// @file
/// @brief Top-k sparsification (Choco-SGD's baseline, docs/algorithms.md §3.4): per tensor, keep the k = ⌈f·n⌉
/// entries of largest magnitude (ties to the lower index), as indices and values. A non-linear vector compressor.
///
/// Message of a tensor: k 32-bit indices (ascending), padded to a multiple of sizeof(T), then k values:
/// 4k (+ padding) + k·sizeof(T) bytes. The selection runs on the host: with the host executor in place and in
/// parallel, reading the tensor once for large tensors (see `select`); with the CUDA executor the tensor is copied
/// to the host and the message back, and the selection runs on one thread (a baseline, not a tuned kernel).
/// Decoding is one scatter on the executor. Magnitudes are ordered by the bits of |v| (sign bit cleared): the
/// order of the values for numbers (−0 ties +0), with a NaN above every number.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
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
    expects(n <= std::numeric_limits<std::uint32_t>::max(), "top-k: a tensor of ", n,
            " elements does not fit the message's 32-bit indices");
    if constexpr (Exec::space == memory_space::host) {
      select(ex, v.data, n, k, message);  // in place: no staging of the tensor or of the message
    } else {
      values_.resize(n);
      ex.download(values_.data(), v.data, n);
      ex.synchronize();
      packed_.resize(message_bytes(v.shape));
      select(exec::host(1), values_.data(), n, k, packed_.data());
      ex.upload(message, packed_.data(), packed_.size());
      ex.synchronize();  // the host staging buffers are reused by the next call
    }
  }

  void decode_add(const Exec& ex, const std::byte* message, double coef, tensor_view<T> dst) const {
    const std::size_t k = kept(dst.numel());
    ex.for_each(k, decent::detail::scatter_add_kernel<T>{dst.data, reinterpret_cast<const std::uint32_t*>(message),
                                                         reinterpret_cast<const T*>(message + values_offset(k)), coef});
  }

 private:
  static std::size_t values_offset(std::size_t k) { return (4 * k + sizeof(T) - 1) / sizeof(T) * sizeof(T); }

  using key_type = decent::detail::magnitude_key_t<T>;
  /// Tensors of at least this many elements take the sampled path (below it the exact selection is as fast).
  static constexpr std::size_t sampled_from = std::size_t{1} << 16;
  /// Elements sampled (at a fixed stride) to place the floor, and elements per chunk of the collecting pass.
  static constexpr std::size_t samples = std::size_t{1} << 14, chunk = std::size_t{1} << 16;

  /// The message of the k entries of host values[0, n) that come first in the order "larger magnitude, then lower
  /// index", indices ascending, written to host memory at `out` (message_bytes long).
  ///
  /// The sampled path reads the tensor once: a floor is placed at a magnitude that a little more than k entries
  /// reach (from a strided sample: the r-th largest of `samples` magnitudes, r a few standard deviations above the
  /// sample's share of k), one parallel pass collects the indices of the entries at or above it, chunk by chunk in
  /// index order, and the exact selection runs on those few. Every entry of the top k is at or above any floor that
  /// at least k entries reach, so when the pass collected at least k the result is exact whatever the sample saw;
  /// when it collected fewer, or a chunk more than its room (data the sample misjudged), the exact selection runs
  /// on the whole tensor. Either way the same message, for any number of threads.
  void select(const exec::host& hx, const T* values, std::size_t n, std::size_t k, std::byte* out) const {
    auto* index = reinterpret_cast<std::uint32_t*>(out);
    auto* value = reinterpret_cast<T*>(out + values_offset(k));
    std::fill(out + 4 * k, out + values_offset(k), std::byte{0});  // the padding
    const auto key = [values](std::uint32_t i) { return decent::detail::magnitude_key(values[i]); };
    const auto emit = [&](std::size_t m, std::uint32_t i) {
      index[m] = i;
      value[m] = values[i];
    };
    if (k == n) {  // everything is sent
      for (std::size_t i = 0; i < n; ++i) emit(i, static_cast<std::uint32_t>(i));
      return;
    }
    const double expected = static_cast<double>(samples) * static_cast<double>(k) / static_cast<double>(n);
    const auto rank = static_cast<std::size_t>(std::ceil(expected + 4 * std::sqrt(expected) + 8));
    if (n >= sampled_from && rank < samples) {
      sample_.resize(samples);
      const std::size_t stride = n / samples;
      for (std::size_t j = 0; j < samples; ++j) sample_[j] = key(static_cast<std::uint32_t>(j * stride));
      std::nth_element(sample_.begin(), sample_.begin() + static_cast<std::ptrdiff_t>(rank - 1), sample_.end(),
                       std::greater<>{});
      const key_type floor = sample_[rank - 1];
      const std::size_t chunks = (n + chunk - 1) / chunk;
      const std::size_t room = std::min(chunk, static_cast<std::size_t>(4 * static_cast<double>(chunk) *
                                                                         static_cast<double>(rank) /
                                                                         static_cast<double>(samples)) + 256);
      found_.resize(chunks * room);
      counts_.resize(chunks);
      hx.for_each(chunks, decent::detail::collect_at_least_kernel<T>{values, n, chunk, room, floor, found_.data(),
                                                                     counts_.data()});
      std::size_t collected = 0;
      bool fits = true;
      for (std::size_t c = 0; c < chunks; ++c) {
        collected += counts_[c];
        fits = fits && counts_[c] <= room;
      }
      if (fits && collected >= k) {
        candidates_.clear();
        for (std::size_t c = 0; c < chunks; ++c)
          candidates_.insert(candidates_.end(), found_.begin() + static_cast<std::ptrdiff_t>(c * room),
                             found_.begin() + static_cast<std::ptrdiff_t>(c * room + counts_[c]));
        keep_first(candidates_, k, key, emit);
        return;
      }
    }
    candidates_.resize(n);
    std::iota(candidates_.begin(), candidates_.end(), std::uint32_t{0});
    keep_first(candidates_, k, key, emit);
  }

  /// emit(m, i) for the k indices of `ascending` (indices in ascending order, at least k) that come first in the
  /// order "larger key, then lower index", m counting them in ascending order of index.
  template <class Key, class Emit>
  void keep_first(const std::vector<std::uint32_t>& ascending, std::size_t k, const Key& key, const Emit& emit) const {
    expects(ascending.size() >= k, "top-k: ", ascending.size(), " candidates for ", k, " entries");
    std::size_t m = 0;
    if (ascending.size() == k) {
      for (std::uint32_t i : ascending) emit(m++, i);
      return;
    }
    order_.assign(ascending.begin(), ascending.end());
    const auto first = [&](std::uint32_t a, std::uint32_t b) {
      const key_type ka = key(a), kb = key(b);
      return ka > kb || (ka == kb && a < b);
    };
    std::nth_element(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(k - 1), order_.end(), first);
    const std::uint32_t last = order_[k - 1];  // the k-th in that order: it and everything before it are kept
    for (std::uint32_t i : ascending)
      if (!first(last, i)) emit(m++, i);
    expects(m == k, "top-k: kept ", m, " entries, not ", k);  // cannot happen: `first` is a strict total order
  }

  options o_;
  // Host scratch, reused from call to call (encode is const for the concept; not thread-safe).
  mutable std::vector<T> values_;                  // the tensor, staged from a device
  mutable std::vector<std::byte> packed_;          // the message, staged for a device
  mutable std::vector<key_type> sample_;
  mutable std::vector<std::uint32_t> found_, candidates_, order_;
  mutable std::vector<std::size_t> counts_;
};

static_assert(vector_compressor<top_k<exec::host, float>>);

}  // namespace decent::compress
