#pragma once
/// @file
/// @brief decent-sim's `--backend cuda`: every simulated worker keeps its parameters and algorithm state in
/// device memory and runs its kernels with `exec::cuda`; the in-process communicator moves device buffers
/// with cudaMemcpy. Needs nvcc.

#include <decent/exec/cuda.cuh>
#include <decent_sim/runner.hpp>

namespace decent::sim {

/// Runs `s` on the CUDA executor (any --backend value is accepted here); throws cuda_error-free
/// invalid_argument when no CUDA device is usable.
inline run_summary run_cuda(const run_spec& s, const row_sink& sink = {}) {
  expects(decent::detail::cuda_device_available(), "--backend cuda: no usable CUDA device on this machine (use --backend host)");
  comm::inprocess_options options;
  options.copy = &exec::device_copy;
  options.device_memory = true;
  return detail::run_in_precision(s, sink, [] { return exec::cuda{}; }, options);
}

}  // namespace decent::sim
