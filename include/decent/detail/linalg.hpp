#pragma once
/// @file
/// @brief Small dense linear algebra in double precision: a row-major matrix, symmetric eigenvalues, LU solves,
/// and modified Gram–Schmidt.
///
/// Host-only O(n³) algorithms for matrices up to a few thousand rows (graph analysis, test problems, random
/// orthogonal matrices). Every routine is deterministic: loops run in a fixed order, no threads.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <utility>
#include <vector>

#include <decent/core/error.hpp>

namespace decent::detail {

/// A dense row-major matrix of doubles with `int` extents; element (i, j) is at `i * cols + j`.
class dense_matrix {
 public:
  /// An empty 0×0 matrix.
  dense_matrix() = default;

  /// A rows×cols matrix with every element equal to `value`.
  /// @throw invalid_argument if an extent is negative.
  dense_matrix(int rows, int cols, double value = 0.0)
      : rows_(rows), cols_(cols), values_(element_count(rows, cols), value) {}

  /// The n×n identity matrix.
  [[nodiscard]] static dense_matrix identity(int n) {
    dense_matrix m(n, n);
    for (int i = 0; i < n; ++i) m(i, i) = 1.0;
    return m;
  }

  /// Number of rows.
  [[nodiscard]] int rows() const noexcept { return rows_; }
  /// Number of columns.
  [[nodiscard]] int cols() const noexcept { return cols_; }

  /// Element (i, j); unchecked.
  [[nodiscard]] double& operator()(int i, int j) noexcept { return values_[offset(i, j)]; }
  /// Element (i, j); unchecked.
  [[nodiscard]] double operator()(int i, int j) const noexcept { return values_[offset(i, j)]; }

  /// Row i as a contiguous span of `cols()` elements; unchecked.
  [[nodiscard]] std::span<double> row(int i) noexcept { return {values_.data() + offset(i, 0), static_cast<std::size_t>(cols_)}; }
  /// Row i as a contiguous span of `cols()` elements; unchecked.
  [[nodiscard]] std::span<const double> row(int i) const noexcept {
    return {values_.data() + offset(i, 0), static_cast<std::size_t>(cols_)};
  }

 private:
  static std::size_t element_count(int rows, int cols) {
    expects(rows >= 0 && cols >= 0, "dense_matrix: negative extent ", rows, "x", cols);
    return static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols);
  }
  [[nodiscard]] std::size_t offset(int i, int j) const noexcept {
    return static_cast<std::size_t>(i) * static_cast<std::size_t>(cols_) + static_cast<std::size_t>(j);
  }

  int rows_ = 0;
  int cols_ = 0;
  std::vector<double> values_;
};

/// The product a·b.
/// @throw invalid_argument if the inner extents differ.
[[nodiscard]] inline dense_matrix multiply(const dense_matrix& a, const dense_matrix& b) {
  expects(a.cols() == b.rows(), "multiply: cannot multiply a ", a.rows(), "x", a.cols(), " matrix by a ", b.rows(), "x",
          b.cols(), " matrix");
  dense_matrix c(a.rows(), b.cols());
  for (int i = 0; i < a.rows(); ++i) {
    const std::span<double> ci = c.row(i);
    for (int k = 0; k < a.cols(); ++k) {
      const double aik = a(i, k);
      const std::span<const double> bk = b.row(k);
      for (std::size_t j = 0; j < ci.size(); ++j) ci[j] += aik * bk[j];
    }
  }
  return c;
}

/// The matrix-vector product a·x.
/// @throw invalid_argument if `x.size() != a.cols()`.
[[nodiscard]] inline std::vector<double> multiply(const dense_matrix& a, std::span<const double> x) {
  expects(x.size() == static_cast<std::size_t>(a.cols()), "multiply: a ", a.rows(), "x", a.cols(),
          " matrix needs a vector of ", a.cols(), " elements, got ", x.size());
  std::vector<double> y(static_cast<std::size_t>(a.rows()), 0.0);
  for (int i = 0; i < a.rows(); ++i) {
    const std::span<const double> ai = a.row(i);
    double sum = 0.0;
    for (std::size_t j = 0; j < ai.size(); ++j) sum += ai[j] * x[j];
    y[static_cast<std::size_t>(i)] = sum;
  }
  return y;
}

/// Reduces a symmetric matrix to tridiagonal form Qᵀ·a·Q with Householder reflections (Q is not formed).
/// Only the lower triangle of `a` is read; `a` is overwritten. On return `diagonal` (n values) and
/// `subdiagonal` (n − 1 values, entry k couples k and k + 1) hold the tridiagonal matrix.
inline void householder_tridiagonalize(dense_matrix& a, std::vector<double>& diagonal, std::vector<double>& subdiagonal) {
  const auto n = static_cast<std::size_t>(a.rows());
  diagonal.assign(n, 0.0);
  subdiagonal.assign(n > 0 ? n - 1 : 0, 0.0);
  std::vector<double> v(n), p(n);
  for (std::size_t k = 0; k + 2 < n; ++k) {
    const int kk = static_cast<int>(k);
    diagonal[k] = a(kk, kk);
    // x = column k below the diagonal; the reflection maps x to alpha·e1 within the trailing block.
    const std::size_t m = n - k - 1;
    double norm2 = 0.0;
    for (std::size_t i = 0; i < m; ++i) {
      v[i] = a(static_cast<int>(k + 1 + i), kk);
      norm2 += v[i] * v[i];
    }
    const double norm = std::sqrt(norm2);
    if (norm == 0.0) continue;  // already tridiagonal in this column (subdiagonal[k] stays 0)
    const double alpha = v[0] > 0.0 ? -norm : norm;  // opposite sign of x0: no cancellation in x0 − alpha
    subdiagonal[k] = alpha;
    // v = (x − alpha·e1) scaled to ‖v‖² = 2, so that H = I − v·vᵀ.
    const double scale = 1.0 / std::sqrt(norm * (norm + std::abs(v[0])));
    v[0] -= alpha;
    for (std::size_t i = 0; i < m; ++i) v[i] *= scale;
    // p = B·v for the trailing block B, read from its lower triangle.
    std::fill(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(m), 0.0);
    for (std::size_t i = 0; i < m; ++i) {
      const double* bi = &a(static_cast<int>(k + 1 + i), static_cast<int>(k + 1));
      const double vi = v[i];
      double sum = bi[i] * vi;
      for (std::size_t j = 0; j < i; ++j) {
        sum += bi[j] * v[j];
        p[j] += bi[j] * vi;
      }
      p[i] += sum;
    }
    // H·B·H = B − v·wᵀ − w·vᵀ with w = p − (vᵀp / 2)·v.
    double vp = 0.0;
    for (std::size_t i = 0; i < m; ++i) vp += v[i] * p[i];
    for (std::size_t i = 0; i < m; ++i) p[i] -= 0.5 * vp * v[i];
    for (std::size_t i = 0; i < m; ++i) {
      double* bi = &a(static_cast<int>(k + 1 + i), static_cast<int>(k + 1));
      const double vi = v[i], wi = p[i];
      for (std::size_t j = 0; j <= i; ++j) bi[j] -= vi * p[j] + wi * v[j];
    }
  }
  if (n >= 2) {
    const int last = static_cast<int>(n) - 1;
    diagonal[n - 2] = a(last - 1, last - 1);
    subdiagonal[n - 2] = a(last, last - 1);
  }
  if (n >= 1) diagonal[n - 1] = a(static_cast<int>(n) - 1, static_cast<int>(n) - 1);
}

/// Eigenvalues of a symmetric tridiagonal matrix by implicit-shift QR (Wilkinson shift, Givens bulge chasing).
/// On return `diagonal` holds the eigenvalues (unordered); `subdiagonal` is destroyed.
/// @throw error if the iteration does not converge (not expected for finite input).
inline void tridiagonal_eigenvalues(std::vector<double>& diagonal, std::vector<double>& subdiagonal) {
  std::vector<double>& d = diagonal;
  std::vector<double>& e = subdiagonal;
  const std::size_t n = d.size();
  const auto negligible = [&](std::size_t k) {  // is e[k] small next to its two diagonal neighbours?
    return std::abs(e[k]) <= std::numeric_limits<double>::epsilon() * (std::abs(d[k]) + std::abs(d[k + 1])) ||
           std::abs(e[k]) < std::numeric_limits<double>::min();
  };
  std::size_t steps = 0;
  for (std::size_t hi = n > 0 ? n - 1 : 0; hi > 0;) {
    if (negligible(hi - 1)) {  // d[hi] has converged: deflate
      e[hi - 1] = 0.0;
      --hi;
      continue;
    }
    std::size_t lo = hi - 1;  // the unreduced block is [lo, hi]
    while (lo > 0 && !negligible(lo - 1)) --lo;
    expects<error>(++steps <= 30 * n, "symmetric_eigenvalues: QR iteration did not converge");
    // Wilkinson shift: the eigenvalue of the trailing 2×2 block closer to d[hi].
    const double delta = 0.5 * (d[hi - 1] - d[hi]), t = e[hi - 1];
    const double shift = d[hi] - t * (t / (delta + std::copysign(std::hypot(delta, t), delta)));
    // One implicit QR step: rotation k acts on rows/columns (k, k+1); (x, z) is the pair it annihilates z in.
    double x = d[lo] - shift, z = e[lo];
    for (std::size_t k = lo; k < hi; ++k) {
      const double r = std::hypot(x, z);
      const double c = r == 0.0 ? 1.0 : x / r, s = r == 0.0 ? 0.0 : z / r;
      if (k > lo) e[k - 1] = r;  // the bulge at (k−1, k+1) is folded into (k−1, k)
      const double a = d[k], b = e[k], cc = d[k + 1];
      d[k] = c * c * a + 2.0 * c * s * b + s * s * cc;
      d[k + 1] = s * s * a - 2.0 * c * s * b + c * c * cc;
      e[k] = (c * c - s * s) * b + c * s * (cc - a);
      if (k + 1 < hi) {  // the rotation creates a bulge at (k, k+2)
        z = s * e[k + 1];
        e[k + 1] *= c;
        x = e[k];
      }
    }
  }
}

/// Eigenvalues of a symmetric matrix in ascending order (Householder tridiagonalisation, then implicit QR).
/// Only the lower triangle is read. O(n³): n = 1024 takes about a second.
/// @throw invalid_argument if the matrix is not square.
[[nodiscard]] inline std::vector<double> symmetric_eigenvalues(dense_matrix a) {
  expects(a.rows() == a.cols(), "symmetric_eigenvalues: needs a square matrix, got ", a.rows(), "x", a.cols());
  std::vector<double> diagonal, subdiagonal;
  householder_tridiagonalize(a, diagonal, subdiagonal);
  tridiagonal_eigenvalues(diagonal, subdiagonal);
  std::sort(diagonal.begin(), diagonal.end());
  return diagonal;
}

/// LU factorisation with partial pivoting, P·A = L·U, computed once and reused for many right-hand sides.
class lu_factorization {
 public:
  /// Factorises the square matrix `a`.
  /// @throw invalid_argument if `a` is not square or is singular to working precision (a pivot no larger than
  /// n·ε·max|a_ij|).
  explicit lu_factorization(dense_matrix a) : lu_(std::move(a)) {
    expects(lu_.rows() == lu_.cols(), "solve: needs a square matrix, got ", lu_.rows(), "x", lu_.cols());
    const int n = lu_.rows();
    double largest = 0.0;
    for (int i = 0; i < n; ++i)
      for (const double x : lu_.row(i)) largest = std::max(largest, std::abs(x));
    const double tolerance = n * std::numeric_limits<double>::epsilon() * largest;
    pivots_.resize(static_cast<std::size_t>(n));
    for (int k = 0; k < n; ++k) {
      int p = k;
      for (int i = k + 1; i < n; ++i)
        if (std::abs(lu_(i, k)) > std::abs(lu_(p, k))) p = i;
      expects(std::abs(lu_(p, k)) > tolerance, "solve: the ", n, "x", n,
              " matrix is singular to working precision (no usable pivot in column ", k, ")");
      pivots_[static_cast<std::size_t>(k)] = p;
      if (p != k) std::swap_ranges(lu_.row(k).begin(), lu_.row(k).end(), lu_.row(p).begin());
      const std::span<const double> uk = lu_.row(k);
      for (int i = k + 1; i < n; ++i) {
        const std::span<double> li = lu_.row(i);
        const double factor = li[static_cast<std::size_t>(k)] / uk[static_cast<std::size_t>(k)];
        li[static_cast<std::size_t>(k)] = factor;
        for (auto j = static_cast<std::size_t>(k) + 1; j < li.size(); ++j) li[j] -= factor * uk[j];
      }
    }
  }

  /// Order of the factorised matrix.
  [[nodiscard]] int size() const noexcept { return lu_.rows(); }

  /// The solution x of A·x = b.
  /// @throw invalid_argument if `b.size() != size()`.
  [[nodiscard]] std::vector<double> solve(std::vector<double> b) const {
    const auto n = static_cast<std::size_t>(size());
    expects(b.size() == n, "solve: a ", n, "x", n, " system needs a right-hand side of ", n, " elements, got ", b.size());
    for (std::size_t k = 0; k < n; ++k) std::swap(b[k], b[static_cast<std::size_t>(pivots_[k])]);
    for (std::size_t i = 0; i < n; ++i) {  // L·y = P·b, L unit lower triangular
      const std::span<const double> li = lu_.row(static_cast<int>(i));
      for (std::size_t j = 0; j < i; ++j) b[i] -= li[j] * b[j];
    }
    for (std::size_t i = n; i-- > 0;) {  // U·x = y
      const std::span<const double> ui = lu_.row(static_cast<int>(i));
      for (std::size_t j = i + 1; j < n; ++j) b[i] -= ui[j] * b[j];
      b[i] /= ui[i];
    }
    return b;
  }

 private:
  dense_matrix lu_;
  std::vector<int> pivots_;
};

/// The solution x of a·x = b (LU with partial pivoting).
/// @throw invalid_argument if `a` is not square, is singular, or `b` has the wrong size.
[[nodiscard]] inline std::vector<double> solve(dense_matrix a, std::vector<double> b) {
  return lu_factorization(std::move(a)).solve(std::move(b));
}

/// The inverse of a square matrix (LU with partial pivoting, one solve per column).
/// @throw invalid_argument if `a` is not square or is singular.
[[nodiscard]] inline dense_matrix inverse(dense_matrix a) {
  const lu_factorization lu(std::move(a));
  const int n = lu.size();
  dense_matrix result(n, n);
  std::vector<double> unit(static_cast<std::size_t>(n));
  for (int j = 0; j < n; ++j) {
    std::fill(unit.begin(), unit.end(), 0.0);
    unit[static_cast<std::size_t>(j)] = 1.0;
    const std::vector<double> column = lu.solve(unit);
    for (int i = 0; i < n; ++i) result(i, j) = column[static_cast<std::size_t>(i)];
  }
  return result;
}

/// Orthonormalises the columns of `a` in place by modified Gram–Schmidt, left to right: column k is divided by
/// (‖column k‖₂ + epsilon), then its projection is removed from every later column.
/// A column whose divisor is 0 (a zero column with epsilon = 0) is left at zero, never NaN. epsilon = 1e-8
/// reproduces PowerGossip's reference orthonormalisation; epsilon = 0 gives exactly unit columns.
inline void orthonormalize_columns(dense_matrix& a, double epsilon = 0.0) {
  for (int k = 0; k < a.cols(); ++k) {
    double norm2 = 0.0;
    for (int i = 0; i < a.rows(); ++i) norm2 += a(i, k) * a(i, k);
    const double divisor = std::sqrt(norm2) + epsilon;
    if (divisor > 0.0)
      for (int i = 0; i < a.rows(); ++i) a(i, k) /= divisor;
    for (int j = k + 1; j < a.cols(); ++j) {
      double projection = 0.0;
      for (int i = 0; i < a.rows(); ++i) projection += a(i, k) * a(i, j);
      for (int i = 0; i < a.rows(); ++i) a(i, j) -= projection * a(i, k);
    }
  }
}

}  // namespace decent::detail
