#pragma once
/// @file
/// @brief The user's own tensor types as views: the `tensor_like` concept and `as_tensor_view(x)`.
///
/// decent takes the user's tensors as they are, without copies. `as_tensor_view(x)` turns `x` into a
/// `tensor_view` (pointer, shape, memory space), trying in this order:
///   1. a member hook: `x.as_tensor_view()` returning a `decent::tensor_view<E>`;
///   2. a specialisation of `decent::tensor_traits<X>`, either with a static element type
///          template <> struct decent::tensor_traits<my_tensor> {
///            using element_type = float;
///            static decent::tensor_view<float> view(my_tensor& t) { return {t.ptr, t.dims, decent::memory_space::device}; }
///          };
///      or, for tensors whose element type is known only at run time (DLPack, decent/core/dlpack.hpp),
///      `template <class E> static tensor_view<E> view_as(X&)` that checks the type;
///   3. the common shapes of tensor types:
///      - an mdspan (`std::mdspan`, `cuda::std::mdspan`, Kokkos'): `data_handle()` and `extents()`, row-major
///        contiguous (layout_right, or strides equal to it);
///      - `data()` with `sizes()`, `shape()` or `extents()` (a range of integers, or an extents object with
///        `rank()`/`extent(r)`); when the type also has `strides()` or `is_contiguous()`, it must be row-major
///        contiguous;
///      - a contiguous range (`std::vector<float>`, `std::span<double>`, `std::array`): a 1-D tensor.
/// The common shapes say nothing of where the memory is: they are host memory unless wrapped in
/// `decent::on_device(x)`. Views are checked when they become `parameters` (decent/core/tensor.hpp): non-contiguous
/// strides, a mismatched element type and (in CUDA builds) memory that is not where it is declared to be are each
/// one clear error.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <ranges>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <decent/core/config.hpp>
#include <decent/core/error.hpp>
#include <decent/core/shape.hpp>

#if defined(__CUDACC__) || defined(DECENT_WITH_CUDA_RUNTIME)
#include <cuda_runtime_api.h>
#endif

namespace decent {

/// Customisation point for a user's tensor type X (see the file comment). The primary template is empty.
template <class X>
struct tensor_traits {};

namespace detail {

template <class V>
struct is_tensor_view : std::false_type {};
template <class E>
struct is_tensor_view<tensor_view<E>> : std::true_type {};

template <class X>
concept member_hook = requires(X& x) {
  { x.as_tensor_view() };
  requires is_tensor_view<std::remove_cvref_t<decltype(x.as_tensor_view())>>::value;
};

template <class X>
using traits_of = tensor_traits<std::remove_cvref_t<X>>;

template <class X>
concept static_traits = requires(X& x) {
  typename traits_of<X>::element_type;
  { traits_of<X>::view(x) } -> std::same_as<tensor_view<typename traits_of<X>::element_type>>;
};

template <class X>
concept dynamic_traits = requires(X& x) {
  { traits_of<X>::template view_as<float>(x) } -> std::same_as<tensor_view<float>>;
};

/// An extents object: `rank()` and `extent(r)` (std::extents, cuda::std::extents).
template <class E>
concept extents_object = requires(const E& e, std::size_t r) {
  { e.rank() } -> std::convertible_to<std::size_t>;
  { e.extent(r) } -> std::convertible_to<std::int64_t>;
};

template <class R>
concept integer_range = std::ranges::input_range<R> && extent_integer<std::remove_cvref_t<std::ranges::range_reference_t<R>>>;

/// A pointer to numbers (the elements of a tensor; not, say, a vector of tensors).
template <class P>
concept number_pointer = std::is_pointer_v<std::remove_cvref_t<P>> &&
                         std::is_arithmetic_v<std::remove_pointer_t<std::remove_cvref_t<P>>>;

template <class X>
concept mdspan_like = requires(X& x, std::size_t r) {
  { x.data_handle() };
  requires number_pointer<decltype(x.data_handle())>;
  { x.extents() } -> extents_object;
  { x.stride(r) } -> std::convertible_to<std::int64_t>;
  { x.is_exhaustive() } -> std::convertible_to<bool>;
};

template <class X>
concept has_data = requires(X& x) {
  { x.data() };
  requires number_pointer<decltype(x.data())>;
};

template <class X>
concept data_and_sizes = has_data<X> && requires(X& x) {
  { x.sizes() } -> integer_range;
};
template <class X>
concept data_and_shape = has_data<X> && requires(X& x) {
  { x.shape() } -> integer_range;
};
template <class X>
concept data_and_extents = has_data<X> && requires(X& x) {
  { x.extents() };
  requires integer_range<decltype(x.extents())> || extents_object<std::remove_cvref_t<decltype(x.extents())>>;
};
template <class X>
concept sized_data = data_and_sizes<X> || data_and_shape<X> || data_and_extents<X>;

template <class X>
concept flat_range = std::ranges::contiguous_range<X> && std::ranges::sized_range<X> && !sized_data<X> &&
                     number_pointer<decltype(std::ranges::data(std::declval<X&>()))>;

/// The extents of an extents object or an integer range, as a shape.
template <class E>
decent::shape shape_of_extents(const E& e) {
  if constexpr (extents_object<E>) {
    std::vector<std::int64_t> out;
    for (std::size_t r = 0; r < static_cast<std::size_t>(e.rank()); ++r) out.push_back(static_cast<std::int64_t>(e.extent(r)));
    return decent::shape(out);
  } else {
    return decent::shape(e);
  }
}

/// Whether `strides` (in elements, one per extent) are those of a row-major contiguous tensor of shape `s`
/// (extents of size 1 may have any stride).
template <class Strides>
bool row_major_contiguous(const decent::shape& s, const Strides& strides) {
  std::int64_t expected = 1;
  int d = s.rank();
  std::vector<std::int64_t> given;
  for (const auto& v : strides) given.push_back(static_cast<std::int64_t>(v));
  if (static_cast<int>(given.size()) != d) return false;
  for (--d; d >= 0; --d) {
    if (s[d] != 1 && given[static_cast<std::size_t>(d)] != expected) return false;
    expected *= s[d];
  }
  return true;
}

inline std::string describe_strides(const std::vector<std::int64_t>& strides) {
  std::ostringstream out;
  out << '(';
  for (std::size_t k = 0; k < strides.size(); ++k) out << (k ? "," : "") << strides[k];
  out << ')';
  return out.str();
}

template <class X>
decent::shape shape_of_common(X& x) {
  if constexpr (data_and_sizes<X>) return shape_of_extents(x.sizes());
  else if constexpr (data_and_shape<X>) return shape_of_extents(x.shape());
  else return shape_of_extents(x.extents());
}

}  // namespace detail

/// A tensor-like value that lives in device memory (the common shapes do not say where their memory is).
template <class X>
struct device_tensor {
  X* tensor;
};
/// Declares `x` (a tensor of a common shape: mdspan, data() + sizes(), contiguous range) as device memory.
template <class X>
device_tensor<X> on_device(X& x) {
  return {&x};
}

namespace detail {
template <class X>
struct is_device_tensor : std::false_type {};
template <class X>
struct is_device_tensor<device_tensor<X>> : std::true_type {};
}  // namespace detail

/// The element type of a tensor-like X with a static element type (void when it is known only at run time).
template <class X>
struct tensor_element {
  using type = void;
};
template <class X>
  requires detail::member_hook<X>
struct tensor_element<X> {
  using type = std::remove_pointer_t<decltype(std::declval<X&>().as_tensor_view().data)>;
};
template <class X>
  requires(!detail::member_hook<X> && detail::static_traits<X>)
struct tensor_element<X> {
  using type = typename detail::traits_of<X>::element_type;
};
template <class X>
  requires(!detail::member_hook<X> && !detail::static_traits<X> && !detail::dynamic_traits<X> && detail::mdspan_like<X>)
struct tensor_element<X> {
  using type = std::remove_pointer_t<std::remove_cvref_t<decltype(std::declval<X&>().data_handle())>>;
};
template <class X>
  requires(!detail::member_hook<X> && !detail::static_traits<X> && !detail::dynamic_traits<X> &&
           !detail::mdspan_like<X> && (detail::sized_data<X> || detail::flat_range<X>))
struct tensor_element<X> {
  using type = std::remove_pointer_t<std::remove_cvref_t<decltype(std::ranges::data(std::declval<X&>()))>>;
};
template <class X>
using tensor_element_t = typename tensor_element<std::remove_reference_t<X>>::type;
template <class X>
struct tensor_element<device_tensor<X>> {
  using type = tensor_element_t<X>;
};
template <class X>
struct tensor_element<const device_tensor<X>> {
  using type = tensor_element_t<X>;
};

/// A tensor type decent can view: any of the ways in the file comment.
template <class X>
concept tensor_like = detail::member_hook<std::remove_reference_t<X>> ||
                      detail::static_traits<std::remove_reference_t<X>> ||
                      detail::dynamic_traits<std::remove_reference_t<X>> ||
                      !std::is_void_v<tensor_element_t<X>>;

/// A tensor of element type E (static), or one whose element type is checked at run time.
template <class X, class E>
concept tensor_like_of = tensor_like<X> && (std::is_void_v<tensor_element_t<X>> ||
                                            std::same_as<std::remove_const_t<tensor_element_t<X>>, std::remove_const_t<E>>);

/// A view of `x` with element type E; throws invalid_argument when `x` is strided, non-contiguous or (for a
/// run-time element type) holds another element type.
template <class E, class X>
tensor_view<E> as_tensor_view_of(X& x) {
  if constexpr (detail::is_device_tensor<std::remove_cv_t<X>>::value) {
    tensor_view<E> v = as_tensor_view_of<E>(*x.tensor);
    v.space = memory_space::device;
    return v;
  } else if constexpr (detail::member_hook<X>) {
    static_assert(std::same_as<tensor_element_t<X>, E>, "the tensor's element type (its as_tensor_view() member) is "
                                                        "not the element type of the parameters");
    return x.as_tensor_view();
  } else if constexpr (detail::static_traits<X>) {
    static_assert(std::same_as<tensor_element_t<X>, E>, "the tensor's element type (tensor_traits<X>::element_type) "
                                                        "is not the element type of the parameters");
    return detail::traits_of<X>::view(x);
  } else if constexpr (detail::dynamic_traits<X>) {
    return detail::traits_of<X>::template view_as<E>(x);
  } else {
    using Elem = tensor_element_t<X>;
    static_assert(!std::is_void_v<Elem>,
                  "decent cannot view this type as a tensor: give it a member as_tensor_view(), specialise "
                  "decent::tensor_traits<X>, or give it data() with sizes()/shape()/extents() (see "
                  "decent/core/tensor_like.hpp)");
    static_assert(!std::is_const_v<Elem>, "decent writes the parameters: pass a tensor of mutable elements (its "
                                          "data() returns a pointer to const)");
    static_assert(std::same_as<Elem, E>, "the tensor's element type is not the element type of the parameters "
                                         "(e.g. a double tensor in decent::parameters<float>)");
    if constexpr (detail::mdspan_like<X>) {
      const decent::shape s = detail::shape_of_extents(x.extents());
      std::vector<std::int64_t> strides;
      for (std::size_t r = 0; r < static_cast<std::size_t>(s.rank()); ++r) strides.push_back(static_cast<std::int64_t>(x.stride(r)));
      expects(detail::row_major_contiguous(s, strides), "the mdspan of shape ", s.to_string(), " has strides ",
              detail::describe_strides(strides), ": decent needs row-major contiguous tensors (layout_right)");
      return {x.data_handle(), s, memory_space::host};
    } else if constexpr (detail::sized_data<X>) {
      const decent::shape s = detail::shape_of_common(x);
      if constexpr (requires { { x.is_contiguous() } -> std::convertible_to<bool>; })
        expects(static_cast<bool>(x.is_contiguous()), "the tensor of shape ", s.to_string(),
                " is not contiguous: decent needs row-major contiguous tensors (make it contiguous first)");
      if constexpr (requires { { x.strides() } -> detail::integer_range; }) {
        std::vector<std::int64_t> strides;
        for (const auto& v : x.strides()) strides.push_back(static_cast<std::int64_t>(v));
        expects(detail::row_major_contiguous(s, strides), "the tensor of shape ", s.to_string(), " has strides ",
                detail::describe_strides(strides), ": decent needs row-major contiguous tensors");
      }
      return {x.data(), s, memory_space::host};
    } else {
      return {std::ranges::data(x), decent::shape{static_cast<std::int64_t>(std::ranges::size(x))},
              memory_space::host};
    }
  }
}

/// A view of `x` with its own (static) element type.
template <class X>
  requires(!std::is_void_v<tensor_element_t<X>>)
auto as_tensor_view(X& x) {
  return as_tensor_view_of<tensor_element_t<X>>(x);
}

namespace detail {

/// Where `p` actually lives, when a CUDA runtime is compiled in and a device is present: host (also pageable
/// memory unknown to CUDA), device, or either (managed memory). Without CUDA, the declared space is trusted.
enum class actual_space { unknown, host, device, managed };

inline actual_space locate(const void* p) {
#if defined(__CUDACC__) || defined(DECENT_WITH_CUDA_RUNTIME)
  cudaPointerAttributes a{};
  if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
    (void)cudaGetLastError();  // no device, or an old driver: nothing to check against
    return actual_space::unknown;
  }
  switch (a.type) {
    case cudaMemoryTypeDevice: return actual_space::device;
    case cudaMemoryTypeManaged: return actual_space::managed;
    default: return actual_space::host;
  }
#else
  (void)p;
  return actual_space::unknown;
#endif
}

/// Throws when tensor `k` is not in the memory space it is declared in (checked in CUDA builds only).
template <class T>
void check_memory_space(const tensor_view<T>& v, std::size_t k) {
  if (v.data == nullptr) return;
  const actual_space a = locate(v.data);
  expects(!(a == actual_space::device && v.space == memory_space::host), "tensor ", k, " of shape ",
          v.shape.to_string(), " is in device memory but declared as host memory (wrap it in decent::on_device(), "
          "or declare memory_space::device in its tensor_traits)");
  expects(!(a == actual_space::host && v.space == memory_space::device), "tensor ", k, " of shape ",
          v.shape.to_string(), " is declared as device memory but its pointer is host memory");
}

}  // namespace detail

}  // namespace decent
