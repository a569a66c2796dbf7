#pragma once
/// @file
/// @brief Checking CUDA runtime calls: throw `decent::cuda_error` with the call and its file:line.
///
/// Needs the CUDA runtime headers (compiles with g++ or nvcc); included only by CUDA-facing headers.

#include <cuda_runtime_api.h>

#include <decent/core/error.hpp>

namespace decent::detail {

/// Throws cuda_error for a failed call, clearing the sticky last-error state first.
inline void cuda_check(cudaError_t status, const char* call, const char* file, int line) {
  if (status == cudaSuccess) return;
  (void)cudaGetLastError();
  throw cuda_error(concat(file, ":", line, ": ", call, " failed: ", cudaGetErrorName(status), " (",
                          cudaGetErrorString(status), ")"));
}

/// True when at least one CUDA device can be used (any runtime error counts as "no GPU").
inline bool cuda_device_available() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return count > 0;
}

}  // namespace decent::detail

/// Checks a CUDA runtime call; throws decent::cuda_error naming the call and its file:line.
#define DECENT_CUDA_TRY(call) ::decent::detail::cuda_check((call), #call, __FILE__, __LINE__)
/// Same check for destructors and other places that must not throw: the error is dropped.
#define DECENT_CUDA_TRY_NO_THROW(call) static_cast<void>(call)
