#pragma once
/// @file
/// @brief The opt-in finiteness check of the algorithms (`check_finite(true)`): is every value of a buffer in
/// executor memory finite, and if not, which one is first — in words that name the worker, the step and the
/// parameter.
///
/// Cost: one read of the buffer per check (`exec.sum` over blocks of an integer test of the exponent bits); the first
/// non-finite value is located on a host copy only when there is one. bench/mixing_bench.cpp measures it.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <decent/core/config.hpp>
#include <decent/core/error.hpp>
#include <decent/core/tensor.hpp>

namespace decent::detail {

/// Whether block b (`width` elements) of v[0, n) holds a NaN or an infinity: 1 or 0, so that a sum over the blocks
/// is 0 iff every value is finite. A value is non-finite iff its exponent bits are all set; the test is an integer
/// OR over the block (no floating-point dependency chain), so a check runs at memory bandwidth.
template <class T>
struct finiteness_term {
  static constexpr std::size_t width = 256;
  using bits = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
  static constexpr bits exponent = sizeof(T) == 8 ? bits(0x7ff0000000000000ull) : bits(0x7f800000u);
  const T* v;
  std::size_t n;
  [[nodiscard]] static constexpr std::size_t blocks(std::size_t count) { return (count + width - 1) / width; }
  DECENT_HD double operator()(std::size_t b) const {
    const std::size_t begin = b * width, end = begin + width < n ? begin + width : n;
    bits any = 0;
    for (std::size_t k = begin; k < end; ++k) {
      bits x;
      memcpy(&x, v + k, sizeof x);
      any |= static_cast<bits>((x & exponent) == exponent);
    }
    return static_cast<double>(any);
  }
};

}  // namespace decent::detail

namespace decent {

/// The index of the first non-finite value among n elements at `data` (executor memory), or nothing.
template <class Exec, class T>
[[nodiscard]] std::optional<std::size_t> first_non_finite(const Exec& ex, const T* data, std::size_t n) {
  using term = decent::detail::finiteness_term<T>;
  if (n == 0 || ex.sum(term::blocks(n), term{data, n}) == 0.0) return std::nullopt;
  std::vector<T> host(n);
  ex.download(host.data(), data, n);
  ex.synchronize();
  for (std::size_t k = 0; k < n; ++k)
    if (!std::isfinite(static_cast<double>(host[k]))) return k;
  return std::nullopt;  // not reached: the sum saw one
}

/// Throws `error` if a value of `params` is not finite: "worker R at step S: parameter k (tensor t of shape …,
/// element e) is nan <when>". `when` says where the check stands and what that means for the cause.
template <class Exec, class T>
void require_finite(const Exec& ex, const parameters<T>& params, int rank, std::int64_t step, std::string_view when) {
  const parameter_layout& layout = params.layout();
  for (const auto& [view, offset] : params.segments()) {
    const auto k = first_non_finite(ex, view.data, view.numel());
    if (!k) continue;
    const std::size_t at = offset + *k;  // in the layout's order
    std::size_t tensor = 0;
    while (tensor + 1 < layout.num_tensors() && layout.offset(tensor + 1) <= at) ++tensor;
    T value{};
    ex.download(&value, view.data + *k, 1);
    ex.synchronize();
    throw error(decent::detail::concat("worker ", rank, " at step ", step, ": parameter ", at, " (tensor ", tensor,
                                       " of shape ", layout.shape(tensor).to_string(), ", element ",
                                       at - layout.offset(tensor), ") is ", static_cast<double>(value), " ", when));
  }
}

/// The same for a packed buffer of `layout` (what a worker sends or receives).
template <class Exec, class T>
void require_finite(const Exec& ex, const T* data, const parameter_layout& layout, int rank, std::int64_t step,
                    std::string_view when) {
  require_finite(ex, parameters<T>::packed(const_cast<T*>(data), layout, Exec::space), rank, step, when);
}

}  // namespace decent
