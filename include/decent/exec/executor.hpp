#pragma once
/// @file
/// @brief The Executor concept: where decent's kernels run.
///
/// An executor runs element-wise functors (`for_each`) and deterministic reductions (`sum`), copies, transfers
/// from and to host memory (`upload`, `download`), allocates buffers in its memory space and synchronizes — the
/// minimum. `dot`, `squared_norm`, `fill`, `matmul` and `matmul_transposed` are free functions over any executor
/// (`exec::dot(ex, a, b, n)`). Kernels are written once as `DECENT_HD` functors (decent/detail/kernels.hpp) and run
/// unchanged by every executor.
///
/// Implementations: `exec::host` (serial or OpenMP, decent/exec/host.hpp) and `exec::cuda` (a CUDA stream,
/// decent/exec/cuda.cuh, nvcc only).

#include <concepts>
#include <cstddef>

#include <decent/core/tensor.hpp>
#include <decent/detail/kernels.hpp>

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

// The operations every executor has through its own `for_each` and `sum`, so that their math exists once.

/// Σ a_i b_i in double (the executor's deterministic order).
template <executor E, class T>
[[nodiscard]] double dot(const E& e, const T* a, const T* b, std::size_t n) {
  return e.sum(n, decent::detail::dot_term<T>{a, b});
}
/// Σ a_i² in double.
template <executor E, class T>
[[nodiscard]] double squared_norm(const E& e, const T* a, std::size_t n) {
  return e.sum(n, decent::detail::dot_term<T>{a, a});
}
/// dst[i] = value for i < n.
template <executor E, class T>
void fill(const E& e, T* dst, T value, std::size_t n) {
  e.for_each(n, decent::detail::fill_kernel<T>{dst, value});
}
/// P = X·Q: X row-major a×b, Q row-major b×r, P row-major a×r (one work item per row of P).
template <executor E, class T>
void matmul(const E& e, const T* x, std::size_t a, std::size_t b, const T* q, std::size_t r, T* p) {
  e.for_each(a, decent::detail::matmul_row<T>{x, q, p, b, r});
}
/// Q = Xᵀ·P: X row-major a×b, P row-major a×r, Q row-major b×r (one work item per row of Q, so that
/// neighbouring items read neighbouring columns of X).
template <executor E, class T>
void matmul_transposed(const E& e, const T* x, std::size_t a, std::size_t b, const T* p, std::size_t r, T* q) {
  e.for_each(b, decent::detail::matmul_transposed_row<T>{x, p, q, a, b, r});
}

/// An executor whose kernels access memory in `Space`.
template <class E, memory_space Space>
concept executor_for = executor<E> && (E::space == Space);

}  // namespace decent::exec
