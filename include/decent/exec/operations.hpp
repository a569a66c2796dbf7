#pragma once
/// @file
/// @brief The operations every executor has through its own `for_each` and `sum`, so that their math exists
/// once: `dot`, `squared_norm`, `fill`, `matmul`, `matmul_transposed` (`exec::dot(ex, a, b, n)`).

#include <cstddef>

#include <decent/exec/executor.hpp>
#include <decent/exec/kernels.hpp>

namespace decent::exec {

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

}  // namespace decent::exec
