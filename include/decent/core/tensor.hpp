#pragma once
/// @file
/// @brief A model's parameters: views of the user's own tensors and the layout they form.
///
/// decent never copies the user's parameters into tensors of its own: it keeps a `tensor_view` (pointer,
/// shape, memory space) per tensor (decent/core/shape.hpp). `parameters<T>` is a layout plus one view per
/// tensor, optionally backed by one contiguous buffer so that element-wise algorithms can move the whole model
/// as one message. It is built straight from the user's tensors — any `tensor_like` type
/// (decent/core/tensor_like.hpp), a range of them, or a pack:
///
///     decent::parameters params{w1, b1, w2, b2};              // element type deduced from the tensors
///     decent::parameters<float> dl(dlpack_tensors);            // a range (here of DLTensor, run-time dtype)
///     decent::parameters<float> raw{{w, {256, 784}}, {b, {256}}};   // raw pointers with shapes

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <decent/core/config.hpp>
#include <decent/core/error.hpp>
#include <decent/core/shape.hpp>
#include <decent/core/tensor_like.hpp>

namespace decent {

/// A model's parameters: one view per tensor of the user's memory, and the layout they form.
///
/// Built from the user's tensors (`parameters{w1, b1}`, a range of tensors), from raw pointers with shapes
/// (`{{w1, {256, 784}}, {b1, {256}}}`), or from one contiguous buffer and a layout
/// (`parameters<float>::packed(ptr, layout)`). Tensors that lie back to back in memory, in order, form a packed
/// model: `flat()` then gives it as one view, which element-wise algorithms exchange as a single message. All
/// tensors share one memory space; in CUDA builds each pointer is checked once to be in the space it is declared
/// in (cudaPointerGetAttributes).
template <class T>
class parameters {
 public:
  struct entry {
    T* data;
    decent::shape shape;
  };

  parameters() = default;

  /// Separate tensors (raw pointers with shapes) in `space`.
  parameters(std::initializer_list<entry> tensors, memory_space space = memory_space::host)
      : parameters(std::vector<entry>(tensors), space) {}

  parameters(const std::vector<entry>& tensors, memory_space space = memory_space::host) {
    std::vector<tensor_view<T>> views;
    views.reserve(tensors.size());
    for (const auto& t : tensors) views.push_back({t.data, t.shape, space});
    assign(std::move(views));
  }

  /// The user's own tensors, in order (any `tensor_like` type; each says its memory space).
  template <class... X>
    requires(sizeof...(X) >= 1 && (tensor_like_of<X, T> && ...))
  explicit parameters(X&&... tensors) {
    (check_lifetime<X>(), ...);
    std::vector<tensor_view<T>> views;
    views.reserve(sizeof...(X));
    (views.push_back(as_tensor_view_of<T>(tensors)), ...);
    assign(std::move(views));
  }

  /// A range of the user's tensors (e.g. `std::vector<my_tensor>` or a model's parameter list).
  template <std::ranges::input_range R>
    requires tensor_like_of<std::ranges::range_reference_t<R>, T> && (!tensor_like<R>)
  explicit parameters(R&& tensors) {
    std::vector<tensor_view<T>> views;
    for (auto&& t : tensors) views.push_back(as_tensor_view_of<T>(t));
    assign(std::move(views));
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
  /// A temporary that owns its memory (a std::vector returned by a function) would leave dangling views.
  template <class X>
  static constexpr void check_lifetime() {
    static_assert(std::is_lvalue_reference_v<X> || std::is_trivially_copyable_v<std::remove_cvref_t<X>>,
                  "decent::parameters keeps views of the tensors: pass tensors that outlive it (lvalues), not "
                  "temporaries that own their memory");
  }

  void assign(std::vector<tensor_view<T>> views) {
    std::vector<decent::shape> shapes;
    shapes.reserve(views.size());
    for (std::size_t k = 0; k < views.size(); ++k) {
      const tensor_view<T>& v = views[k];
      expects(v.data != nullptr || v.numel() == 0, "tensor ", k, " of shape ", v.shape.to_string(),
              " has a null data pointer");
      expects(v.space == views.front().space, "tensor ", k, " is in ", to_string(v.space), " memory but tensor 0 is in ",
              to_string(views.front().space), " memory: all parameters must be in one memory space");
      detail::check_memory_space(v, k);
      shapes.push_back(v.shape);
    }
    views_ = std::move(views);
    layout_ = parameter_layout(std::move(shapes));
    // Tensors that happen to be adjacent in memory, in layout order, are a packed buffer too.
    bool adjacent = !views_.empty();
    for (std::size_t k = 0; k < views_.size() && adjacent; ++k)
      adjacent = views_[k].data == views_.front().data + layout_.offset(k);
    if (adjacent) base_ = views_.front().data;
  }

  std::vector<tensor_view<T>> views_;
  parameter_layout layout_;
  T* base_ = nullptr;
};

/// `parameters params{w1, b1, ...}` deduces the element type from the first tensor (tensors with a run-time
/// element type, like DLTensor, need it spelled: `parameters<float>`).
template <class X, class... Xs>
  requires(!std::is_void_v<tensor_element_t<X>>)
parameters(X&&, Xs&&...) -> parameters<std::remove_const_t<tensor_element_t<X>>>;

}  // namespace decent
