#pragma once
/// @file
/// @brief Non-owning views of the user's memory and the parameter layout of a model.
///
/// decent never copies the user's parameters into tensors of its own: it keeps a `tensor_view` (pointer,
/// shape, memory space) per tensor. A `parameter_layout` is the list of shapes with their offsets in a packed
/// buffer; `parameters<T>` is a layout plus one view per tensor, optionally backed by one contiguous buffer so
/// that element-wise algorithms can move the whole model as one message.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <decent/core/config.hpp>
#include <decent/core/error.hpp>
#include <decent/core/fingerprint.hpp>

namespace decent {

/// Where a buffer lives. Executors and communicators declare which spaces they can touch.
enum class memory_space : std::uint8_t { host, device };

inline const char* to_string(memory_space s) { return s == memory_space::host ? "host" : "device"; }

/// A tensor shape: up to `max_rank` extents. Rank 0 is a scalar (one element).
class shape {
 public:
  static constexpr int max_rank = 6;

  shape() = default;
  shape(std::initializer_list<std::int64_t> extents) { assign(extents.begin(), extents.end()); }
  explicit shape(std::span<const std::int64_t> extents) { assign(extents.begin(), extents.end()); }

  [[nodiscard]] int rank() const { return rank_; }
  [[nodiscard]] std::int64_t operator[](int d) const { return extents_[static_cast<std::size_t>(d)]; }
  /// Number of elements (1 for a scalar).
  [[nodiscard]] std::size_t numel() const {
    std::size_t n = 1;
    for (int d = 0; d < rank_; ++d) n *= static_cast<std::size_t>(extents_[static_cast<std::size_t>(d)]);
    return n;
  }
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
    std::string s = "[";
    for (int d = 0; d < rank_; ++d) {
      if (d) s += "x";
      s += std::to_string(extents_[static_cast<std::size_t>(d)]);
    }
    return s + "]";
  }

 private:
  template <class It>
  void assign(It first, It last) {
    const auto n = std::distance(first, last);
    expects(n <= max_rank, "tensor rank ", n, " exceeds the supported maximum of ", max_rank);
    rank_ = static_cast<int>(n);
    int d = 0;
    for (; first != last; ++first, ++d) {
      expects(*first >= 0, "negative extent ", *first, " in a tensor shape");
      extents_[static_cast<std::size_t>(d)] = *first;
    }
  }

  std::array<std::int64_t, max_rank> extents_{};
  int rank_ = 0;
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
    for (const auto& s : shapes_) offsets_.push_back(offsets_.back() + s.numel());
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
    for (std::size_t k = 0; k < shapes_.size(); ++k) s += (k ? "," : "") + shapes_[k].to_string();
    return s;
  }

 private:
  std::vector<decent::shape> shapes_;
  std::vector<std::size_t> offsets_;
};

/// A model's parameters: one view per tensor of the user's memory, and the layout they form.
///
/// Built either from separate tensors (`{{w1, {256, 784}}, {b1, {256}}}`) or from one contiguous buffer and a
/// layout (`parameters<float>::packed(ptr, layout)`); in the second case `flat()` gives the whole model as
/// one view, which element-wise algorithms exchange as a single message. All tensors share one memory space.
template <class T>
class parameters {
 public:
  struct entry {
    T* data;
    decent::shape shape;
  };

  parameters() = default;

  /// Separate tensors in `space`.
  parameters(std::initializer_list<entry> tensors, memory_space space = memory_space::host)
      : parameters(std::vector<entry>(tensors), space) {}

  parameters(const std::vector<entry>& tensors, memory_space space = memory_space::host) {
    std::vector<decent::shape> shapes;
    for (const auto& t : tensors) {
      expects(t.data != nullptr || t.shape.numel() == 0, "tensor ", views_.size(), " of shape ",
              t.shape.to_string(), " has a null data pointer");
      views_.push_back({t.data, t.shape, space});
      shapes.push_back(t.shape);
    }
    layout_ = parameter_layout(std::move(shapes));
    // Tensors that happen to be adjacent in memory, in layout order, are a packed buffer too.
    bool adjacent = !views_.empty();
    for (std::size_t k = 0; k < views_.size() && adjacent; ++k)
      adjacent = views_[k].data == views_.front().data + layout_.offset(k);
    if (adjacent) base_ = views_.front().data;
  }

  /// A model packed in one contiguous buffer of `layout.numel()` elements.
  static parameters packed(T* base, const parameter_layout& layout, memory_space space = memory_space::host) {
    expects(base != nullptr || layout.numel() == 0, "packed parameters need a non-null buffer");
    parameters p;
    p.layout_ = layout;
    p.base_ = base;
    for (std::size_t k = 0; k < layout.num_tensors(); ++k) p.views_.push_back({base + layout.offset(k), layout.shape(k), space});
    return p;
  }

  [[nodiscard]] const parameter_layout& layout() const { return layout_; }
  [[nodiscard]] std::size_t num_tensors() const { return views_.size(); }
  [[nodiscard]] const tensor_view<T>& operator[](std::size_t k) const { return views_.at(k); }
  [[nodiscard]] std::span<const tensor_view<T>> tensors() const { return views_; }
  [[nodiscard]] std::size_t numel() const { return layout_.numel(); }
  [[nodiscard]] memory_space space() const { return views_.empty() ? memory_space::host : views_.front().space; }
  /// True when all tensors lie back to back in one buffer, in layout order.
  [[nodiscard]] bool is_packed() const { return base_ != nullptr; }
  /// A contiguous piece of the model and its offset (in elements) in the packed layout.
  struct segment {
    tensor_view<T> view;
    std::size_t offset;
  };
  /// What an element-wise algorithm moves and updates: the whole buffer as one segment when packed (one
  /// message per peer), otherwise one segment per tensor.
  [[nodiscard]] std::vector<segment> segments() const {
    if (auto f = flat()) return {segment{*f, 0}};
    std::vector<segment> out;
    for (std::size_t k = 0; k < views_.size(); ++k) out.push_back({views_[k], layout_.offset(k)});
    return out;
  }
  /// The whole model as one rank-1 view, when packed.
  [[nodiscard]] std::optional<tensor_view<T>> flat() const {
    if (!is_packed()) return std::nullopt;
    return tensor_view<T>{base_, decent::shape{static_cast<std::int64_t>(numel())}, space()};
  }

 private:
  std::vector<tensor_view<T>> views_;
  parameter_layout layout_;
  T* base_ = nullptr;
};

}  // namespace decent
