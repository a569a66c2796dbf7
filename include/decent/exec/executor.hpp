#pragma once
/// @file
/// @brief The Executor concept: where decent's kernels run.
///
/// An executor runs element-wise functors (`for_each`), deterministic reductions (`sum`, `dot`,
/// `squared_norm`), copies and fills, transfers from and to host memory (`upload`, `download`), the small
/// dense products of PowerGossip (`matmul`, `matmul_transposed`), and allocates buffers in its memory space. Kernels are written once as
/// `DECENT_HD` functors (decent/detail/kernels.hpp) and run unchanged by every executor.
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

/// The operations every executor derives from its own `for_each` and `sum` (CRTP), so that the math of
/// dot products, fills and PowerGossip's small products exists once for all executors.
template <class Derived>
class executor_operations {
 public:
  /// Σ a_i b_i in double (the executor's deterministic order).
  template <class T>
  [[nodiscard]] double dot(const T* a, const T* b, std::size_t n) const {
    return self().sum(n, decent::detail::dot_term<T>{a, b});
  }
  /// Σ a_i² in double.
  template <class T>
  [[nodiscard]] double squared_norm(const T* a, std::size_t n) const {
    return self().sum(n, decent::detail::dot_term<T>{a, a});
  }
  /// dst[i] = value for i < n.
  template <class T>
  void fill(T* dst, T value, std::size_t n) const {
    self().for_each(n, decent::detail::fill_kernel<T>{dst, value});
  }
  /// P = X·Q: X row-major a×b, Q row-major b×r, P row-major a×r (one work item per row of P).
  template <class T>
  void matmul(const T* x, std::size_t a, std::size_t b, const T* q, std::size_t r, T* p) const {
    self().for_each(a, decent::detail::matmul_row<T>{x, q, p, b, r});
  }
  /// Q = Xᵀ·P: X row-major a×b, P row-major a×r, Q row-major b×r (one work item per row of Q, so that
  /// neighbouring items read neighbouring columns of X).
  template <class T>
  void matmul_transposed(const T* x, std::size_t a, std::size_t b, const T* p, std::size_t r, T* q) const {
    self().for_each(b, decent::detail::matmul_transposed_row<T>{x, p, q, a, b, r});
  }

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
};

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
  e.upload(d, cd, n);
  e.download(d, cd, n);
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
