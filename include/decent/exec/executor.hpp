#pragma once
/// @file
/// @brief The Executor concept: where decent's kernels run.
///
/// An executor runs element-wise functors (`for_each`), deterministic reductions (`sum`, `dot`,
/// `squared_norm`), copies and fills, the small dense products of PowerGossip (`matmul`,
/// `matmul_transposed`), and allocates buffers in its memory space. Kernels are written once as
/// `DECENT_HD` functors (decent/detail/kernels.hpp) and run unchanged by every executor.
///
/// Implementations: `exec::host` (serial or OpenMP, decent/exec/host.hpp) and `exec::cuda` (a CUDA stream,
/// decent/exec/cuda.cuh, nvcc only).

#include <concepts>
#include <cstddef>

#include <decent/core/tensor.hpp>

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

/// What every executor provides. `E::space` is the memory its kernels read and write.
template <class E>
concept executor = requires(const E& e, std::size_t n, double* d, const double* cd) {
  requires std::same_as<typename E::executor_concept, executor_tag>;
  { E::space } -> std::convertible_to<memory_space>;
  e.for_each(n, detail::probe_kernel{});
  { e.sum(n, detail::probe_term{}) } -> std::same_as<double>;
  { e.dot(cd, cd, n) } -> std::same_as<double>;
  { e.squared_norm(cd, n) } -> std::same_as<double>;
  e.copy(d, cd, n);
  e.fill(d, 0.0, n);
  e.matmul(cd, n, n, cd, n, d);
  e.matmul_transposed(cd, n, n, cd, n, d);
  { e.template allocate<double>(n).data() } -> std::same_as<double*>;
  e.synchronize();
};

/// An executor whose kernels access memory in `Space`.
template <class E, memory_space Space>
concept executor_for = executor<E> && (E::space == Space);

}  // namespace decent::exec
