#pragma once
/// @file
/// @brief Shapes, non-owning tensor views and parameter layouts: the vocabulary every layer uses for the user's
/// memory.
///
/// A `shape` is up to six extents; its element count is computed once, with overflow checked. A `tensor_view`
/// is a pointer, a shape and a memory space. A `parameter_layout` is a list of shapes with their offsets in a
/// packed buffer (offsets checked too). Shapes come from any range of integers (`std::vector<int>`, a
/// framework's `sizes()`), each extent checked to be non-negative and representable.

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <ranges>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <decent/core/config.hpp>
#include <decent/core/error.hpp>
#include <decent/core/fingerprint.hpp>

namespace decent {

/// Where a buffer lives. Executors and communicators declare which spaces they can touch.
enum class memory_space : std::uint8_t { host, device };

inline const char* to_string(memory_space s) { return s == memory_space::host ? "host" : "device"; }

namespace detail {
/// a · b, or an invalid_argument naming `what` when it does not fit in size_t.
inline std::size_t checked_multiply(std::size_t a, std::size_t b, const char* what) {
  expects(b == 0 || a <= std::numeric_limits<std::size_t>::max() / b, what, " overflows: ", a, " x ", b,
          " is more than ", std::numeric_limits<std::size_t>::max());
  return a * b;
}
/// a + b, or an invalid_argument naming `what` when it does not fit in size_t.
inline std::size_t checked_add(std::size_t a, std::size_t b, const char* what) {
  expects(a <= std::numeric_limits<std::size_t>::max() - b, what, " overflows: ", a, " + ", b, " is more than ",
          std::numeric_limits<std::size_t>::max());
  return a + b;
}
/// An integer type that can hold an extent (not a character or bool: a string is no shape).
template <class E>
concept extent_integer = std::integral<E> && !std::same_as<E, bool> && !std::same_as<E, char> &&
                         !std::same_as<E, wchar_t> && !std::same_as<E, char8_t> && !std::same_as<E, char16_t> &&
                         !std::same_as<E, char32_t>;
}  // namespace detail

/// A tensor shape: up to `max_rank` extents. Rank 0 is a scalar (one element).
class shape {
 public:
  static constexpr int max_rank = 6;

  shape() = default;
  shape(std::initializer_list<std::int64_t> extents) { assign(extents); }
  /// From any range of integers (`std::vector<int>`, `std::span<const std::int64_t>`, a framework's sizes()).
  template <std::ranges::input_range R>
    requires detail::extent_integer<std::remove_cvref_t<std::ranges::range_reference_t<R>>>
  shape(const R& extents) {  // NOLINT(google-explicit-constructor): shapes convert from integer lists
    assign(extents);
  }

  [[nodiscard]] int rank() const { return rank_; }
  [[nodiscard]] std::int64_t operator[](int d) const { return extents_[static_cast<std::size_t>(d)]; }
  /// Number of elements (1 for a scalar); computed at construction, overflow checked.
  [[nodiscard]] std::size_t numel() const { return numel_; }
  /// Rows of the matrix view used by low-rank compression: the first extent (1 for a scalar).
  [[nodiscard]] std::size_t rows() const { return rank_ == 0 ? 1 : static_cast<std::size_t>(extents_[0]); }
  /// Columns of the matrix view: the product of all extents but the first.
  [[nodiscard]] std::size_t cols() const {
    std::size_t n = 1;
    for (int d = 1; d < rank_; ++d) n *= static_cast<std::size_t>(extents_[static_cast<std::size_t>(d)]);
    return n;
  }
  /// True when the tensor is gossiped uncompressed by low-rank compressors (one dimension or less).
  [[nodiscard]] bool is_vector_like() const { return rank_ <= 1; }

  friend bool operator==(const shape& a, const shape& b) {
    if (a.rank_ != b.rank_) return false;
    return std::equal(a.extents_.begin(), a.extents_.begin() + a.rank_, b.extents_.begin());
  }

  [[nodiscard]] std::string to_string() const {
    std::string s(1, '[');
    for (int d = 0; d < rank_; ++d) {
      if (d) s.push_back('x');
      s.append(std::to_string(extents_[static_cast<std::size_t>(d)]));
    }
    s.push_back(']');
    return s;
  }

 private:
  template <class R>
  void assign(const R& extents) {
    int d = 0;
    std::size_t n = 1;
    for (const auto& e : extents) {
      expects(d < max_rank, "a tensor shape has more than ", max_rank, " extents (the supported maximum)");
      using E = std::remove_cvref_t<decltype(e)>;
      if constexpr (std::is_signed_v<E>) expects(e >= 0, "negative extent ", e, " in a tensor shape");
      if constexpr (sizeof(E) >= sizeof(std::int64_t) && std::is_unsigned_v<E>)
        expects(e <= static_cast<E>(std::numeric_limits<std::int64_t>::max()), "extent ", e,
                " of a tensor shape is larger than ", std::numeric_limits<std::int64_t>::max());
      extents_[static_cast<std::size_t>(d)] = static_cast<std::int64_t>(e);
      ++d;
    }
    rank_ = d;
    for (int k = 0; k < rank_; ++k) {
      const auto e = static_cast<std::size_t>(extents_[static_cast<std::size_t>(k)]);
      expects(e == 0 || n <= std::numeric_limits<std::size_t>::max() / e, "the tensor shape ", to_string(),
              " has more elements than fit in size_t (", std::numeric_limits<std::size_t>::max(), ")");
      n *= e;
    }
    numel_ = n;
  }

  std::array<std::int64_t, max_rank> extents_{};
  int rank_ = 0;
  std::size_t numel_ = 1;
};

/// A non-owning view of one tensor in user memory. Trivially copyable: pass it to kernels by value.
template <class T>
struct tensor_view {
  T* data = nullptr;
  decent::shape shape{};
  memory_space space = memory_space::host;

  [[nodiscard]] std::size_t numel() const { return shape.numel(); }
  [[nodiscard]] std::size_t bytes() const { return numel() * sizeof(T); }
};
static_assert(std::is_trivially_copyable_v<tensor_view<float>>);

/// The shapes of a model's tensors and their offsets (in elements) in a packed buffer.
class parameter_layout {
 public:
  parameter_layout() = default;
  parameter_layout(std::initializer_list<decent::shape> shapes) : parameter_layout(std::vector(shapes)) {}
  explicit parameter_layout(std::vector<decent::shape> shapes) : shapes_(std::move(shapes)) {
    offsets_.reserve(shapes_.size() + 1);
    offsets_.push_back(0);
    for (const auto& s : shapes_)
      offsets_.push_back(detail::checked_add(offsets_.back(), s.numel(), "the number of parameters"));
  }

  [[nodiscard]] std::size_t num_tensors() const { return shapes_.size(); }
  [[nodiscard]] const decent::shape& shape(std::size_t k) const { return shapes_.at(k); }
  [[nodiscard]] std::size_t offset(std::size_t k) const { return offsets_.at(k); }
  /// Total number of elements of all tensors.
  [[nodiscard]] std::size_t numel() const { return offsets_.empty() ? 0 : offsets_.back(); }
  [[nodiscard]] const std::vector<decent::shape>& shapes() const { return shapes_; }

  /// A 64-bit fingerprint of the layout (ranks and extents), for agreement checks across ranks.
  [[nodiscard]] std::uint64_t fingerprint() const {
    decent::fingerprint f;
    f.add(static_cast<std::uint64_t>(shapes_.size()));
    for (const auto& s : shapes_) {
      f.add(s.rank());
      for (int d = 0; d < s.rank(); ++d) f.add(s[d]);
    }
    return f.value();
  }

  friend bool operator==(const parameter_layout& a, const parameter_layout& b) { return a.shapes_ == b.shapes_; }

  [[nodiscard]] std::string to_string() const {
    std::string s;
    for (std::size_t k = 0; k < shapes_.size(); ++k) {
      if (k) s.push_back(',');
      s.append(shapes_[k].to_string());
    }
    return s;
  }

 private:
  std::vector<decent::shape> shapes_;
  std::vector<std::size_t> offsets_;
};

}  // namespace decent
