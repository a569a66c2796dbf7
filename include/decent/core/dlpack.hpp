#pragma once
/// @file
/// @brief DLPack tensors as decent parameters: `DLTensor` and `DLManagedTensor` are `tensor_like`.
///
/// DLPack is the interchange format that PyTorch (`torch.utils.dlpack.to_dlpack`), JAX, CuPy and NumPy
/// (`__dlpack__`) export. Its element type is known only at run time, so the parameters spell theirs:
///
///     #include <decent/core/dlpack.hpp>        // needs <dlpack/dlpack.h> (Debian: libdlpack-dev)
///     std::vector<DLTensor> tensors = ...;     // or DLManagedTensor, e.g. from a framework's capsules
///     decent::parameters<float> params(tensors);
///
/// Checked for each tensor: the dtype is the parameters' element type (float32 / float64, one lane); the device
/// is host memory (kDLCPU, kDLCUDAHost), device memory (kDLCUDA, kDLCUDAManaged) or an error naming it; the
/// strides, when given, are row-major contiguous; `byte_offset` is applied and keeps the pointer aligned; and
/// (DLPack ≥ 1.0) a read-only tensor is refused. The views do not keep the tensors alive: the caller keeps each
/// DLManagedTensor (and calls its deleter) for as long as the parameters are used.

#include <cstddef>
#include <cstdint>
#include <span>
#include <sstream>
#include <string>
#include <type_traits>

#include <dlpack/dlpack.h>

#include <decent/core/error.hpp>
#include <decent/core/shape.hpp>
#include <decent/core/tensor_like.hpp>

namespace decent {

namespace detail {

/// The DLPack dtype of E (float and double only: decent's element types).
template <class E>
constexpr DLDataType dlpack_dtype() {
  static_assert(std::is_same_v<E, float> || std::is_same_v<E, double>, "decent's parameters are float or double");
  return DLDataType{static_cast<std::uint8_t>(kDLFloat), static_cast<std::uint8_t>(sizeof(E) * 8), 1};
}

inline std::string describe_dtype(const DLDataType& t) {
  const char* code = t.code == kDLInt     ? "int"
                     : t.code == kDLUInt  ? "uint"
                     : t.code == kDLFloat ? "float"
                     : t.code == kDLBfloat ? "bfloat"
                     : t.code == kDLComplex ? "complex"
                                            : "code ";
  std::ostringstream s;
  s << code;
  if (t.code > kDLComplex) s << static_cast<int>(t.code);
  s << static_cast<int>(t.bits);
  if (t.lanes != 1) s << 'x' << t.lanes;
  return s.str();
}

inline memory_space dlpack_space(const DLDevice& d) {
  switch (d.device_type) {
    case kDLCPU:
    case kDLCUDAHost: return memory_space::host;
    case kDLCUDA:
    case kDLCUDAManaged: return memory_space::device;
    default:
      throw invalid_argument(concat("a DLTensor on device type ", static_cast<int>(d.device_type),
                                    ": decent takes host memory (kDLCPU, kDLCUDAHost) or CUDA memory (kDLCUDA, "
                                    "kDLCUDAManaged)"));
  }
}

template <class E>
tensor_view<E> view_dlpack(const DLTensor& t) {
  constexpr DLDataType want = dlpack_dtype<E>();
  expects(t.dtype.code == want.code && t.dtype.bits == want.bits && t.dtype.lanes == want.lanes,
          "a DLTensor of dtype ", describe_dtype(t.dtype), " cannot be a parameter of decent::parameters<",
          describe_dtype(want), ">");
  expects(t.ndim >= 0, "a DLTensor with ndim ", t.ndim);
  expects(t.ndim == 0 || t.shape != nullptr, "a DLTensor with ndim ", t.ndim, " has no shape array");
  const decent::shape s(std::span<const std::int64_t>(t.shape, static_cast<std::size_t>(t.ndim)));
  if (t.strides != nullptr) {
    const std::span<const std::int64_t> strides(t.strides, static_cast<std::size_t>(t.ndim));
    expects(row_major_contiguous(s, strides), "a DLTensor of shape ", s.to_string(), " has strides ",
            describe_strides({strides.begin(), strides.end()}),
            ": decent needs row-major contiguous tensors (make it contiguous first)");
  }
  expects(t.byte_offset % sizeof(E) == 0, "a DLTensor's byte_offset ", t.byte_offset,
          " is not a multiple of the element size ", sizeof(E));
  expects(t.data != nullptr || s.numel() == 0, "a DLTensor of shape ", s.to_string(), " has a null data pointer");
  E* data = t.data == nullptr ? nullptr
                              : reinterpret_cast<E*>(static_cast<char*>(t.data) + t.byte_offset);
  expects(reinterpret_cast<std::uintptr_t>(data) % alignof(E) == 0, "a DLTensor's data pointer is not aligned to ",
          alignof(E), " bytes");
  return {data, s, dlpack_space(t.device)};
}

}  // namespace detail

/// DLTensor: the element type is checked at run time against the parameters'.
template <>
struct tensor_traits<DLTensor> {
  template <class E>
  static tensor_view<E> view_as(const DLTensor& t) {
    return detail::view_dlpack<E>(t);
  }
};

/// DLManagedTensor: its `dl_tensor` (the manager context and deleter stay the caller's).
template <>
struct tensor_traits<DLManagedTensor> {
  template <class E>
  static tensor_view<E> view_as(const DLManagedTensor& t) {
    return detail::view_dlpack<E>(t.dl_tensor);
  }
};

#if defined(DLPACK_FLAG_BITMASK_READ_ONLY)
/// DLManagedTensorVersioned (DLPack >= 1.0): refused when flagged read-only.
template <>
struct tensor_traits<DLManagedTensorVersioned> {
  template <class E>
  static tensor_view<E> view_as(const DLManagedTensorVersioned& t) {
    expects((t.flags & DLPACK_FLAG_BITMASK_READ_ONLY) == 0,
            "a read-only DLPack tensor cannot be a parameter: decent writes the mixed model into it");
    return detail::view_dlpack<E>(t.dl_tensor);
  }
};
#endif

}  // namespace decent
