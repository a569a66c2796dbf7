#pragma once
/// @file
/// @brief The Executor concept: where decent's kernels run.
///
/// An executor runs element-wise functors (`for_each`) and deterministic reductions (`sum`), copies, transfers
/// from and to host memory (`upload`, `download`), allocates buffers in its memory space and synchronizes — the
/// minimum. `dot`, `squared_norm`, `fill`, `matmul` and `matmul_transposed` are free functions over any executor
/// (`exec::dot(ex, a, b, n)`, decent/exec/operations.hpp, included by every executor's header). Kernels are written
/// once as `DECENT_HD` functors and run unchanged by every executor: the shared ones in decent/exec/kernels.hpp,
/// each algorithm's and compressor's next to it; this header includes none of them.
///
/// Implementations: `exec::host` (serial or OpenMP, decent/exec/host.hpp) and `exec::cuda` (a CUDA stream,
/// decent/exec/cuda.cuh, nvcc only).

#include <concepts>
#include <cstddef>

#include <decent/core/tensor.hpp>
#include <decent/core/config.hpp>

namespace decent::exec {

/// Opt-in tag: an executor declares `using executor_concept = decent::exec::executor_tag;`.
struct executor_tag {};

namespace detail {
struct probe_kernel {
  DECENT_HD void operator()(std::size_t) const {}
};
struct probe_term {
  DECENT_HD double operator()(std::size_t) const { return 0; }
};
}  // namespace detail

/// What every executor provides — the minimum; everything else is a free function over it below. `E::space` is
/// the memory its kernels read and write, `E::buffer<T>` the owning buffer `allocate` returns.
template <class E>
concept executor = requires(const E& e, std::size_t n, double* d, const double* cd) {
  requires std::same_as<typename E::executor_concept, executor_tag>;
  { E::space } -> std::convertible_to<memory_space>;
  typename E::template buffer<double>;
  e.for_each(n, detail::probe_kernel{});
  { e.sum(n, detail::probe_term{}) } -> std::same_as<double>;
  e.copy(d, cd, n);
  e.upload(d, cd, n);
  e.download(d, cd, n);
  { e.template allocate<double>(n) } -> std::same_as<typename E::template buffer<double>>;
  { e.template allocate<double>(n).data() } -> std::same_as<double*>;
  e.synchronize();
};

/// An executor whose kernels access memory in `Space`.
template <class E, memory_space Space>
concept executor_for = executor<E> && (E::space == Space);

}  // namespace decent::exec
