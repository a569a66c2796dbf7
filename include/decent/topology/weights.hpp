#pragma once
/// @file
/// @brief Gossip weights, Laplacians and mixing matrices of a graph, and checks on mixing matrices.

#include <algorithm>
#include <cmath>
#include <concepts>
#include <string_view>

#include <decent/core/error.hpp>
#include <decent/detail/linalg.hpp>
#include <decent/topology/topology.hpp>

namespace decent::topology {

/// The dense matrix type returned by the analysis functions (row-major, double).
using dense_matrix = decent::detail::dense_matrix;

/// How a worker weighs a neighbour in synchronous gossip x_i ← W_ii x_i + Σ_j W_ij x_j.
enum class weight_scheme {
  /// W_ij = 1 / (max(deg_i, deg_j) + 1): the default (RelaySum baselines; 1/3 on a ring, 1/n on a complete graph).
  /// Always has a positive self-weight, so gossip converges on every connected graph.
  uniform,
  /// W_ij = 1 / max(deg_i, deg_j). On a regular graph the self-weight W_ii is 0, so W may have eigenvalue −1 and
  /// gossip may not converge on bipartite graphs: the spectral gap is 0 on every even ring.
  metropolis_hastings,
};

/// The weight W_ij of edge (i, j) whose endpoints have degrees `deg_i` and `deg_j` (both ≥ 1).
/// @throw invalid_argument if a degree is below 1.
[[nodiscard]] inline double gossip_weight(weight_scheme scheme, int deg_i, int deg_j) {
  expects(deg_i >= 1 && deg_j >= 1, "gossip_weight: degrees must be at least 1, got ", deg_i, " and ", deg_j);
  const int largest = std::max(deg_i, deg_j);
  return scheme == weight_scheme::uniform ? 1.0 / (largest + 1) : 1.0 / largest;
}

/// The largest graph the dense analyses take (Laplacians, mixing matrices, their spectra, effective resistances,
/// A²CiD²'s constants): n×n matrices in double precision and O(n³) factorizations — 32 MiB and about 15 s at
/// 2048 workers on one core (the A²CiD² constants of ring:2048). Larger graphs are refused with a clear error
/// rather than left to run for minutes or exhaust memory.
inline constexpr int max_dense_workers = 2048;

/// Throws unless `g` is small enough for a dense analysis (`max_dense_workers`); `what` names the analysis.
/// @throw invalid_argument saying what was too large and the limit.
inline void require_dense_size(const graph& g, std::string_view what) {
  expects(g.size() <= max_dense_workers, what, " of ", g.name(), " needs a dense ", g.size(), "x", g.size(),
          " analysis (O(n^3)); it is done for graphs of at most ", max_dense_workers, " workers");
}

/// The weighted Laplacian Σ_{(i,j)∈E} w(i, j)(e_i − e_j)(e_i − e_j)ᵀ: L_ij = −w(i, j) on edges,
/// L_ii = Σ_j w(i, j). `weight` is called once per undirected edge, with i < j.
/// @throw invalid_argument above `max_dense_workers` workers.
template <std::invocable<int, int> Weight>
[[nodiscard]] dense_matrix weighted_laplacian(const graph& g, Weight&& weight) {
  require_dense_size(g, "the Laplacian");
  dense_matrix l(g.size(), g.size());
  for (const auto& [i, j] : g.edges()) {
    const double w = weight(i, j);
    l(i, j) -= w;
    l(j, i) -= w;
    l(i, i) += w;
    l(j, j) += w;
  }
  return l;
}

/// The unweighted (combinatorial) Laplacian D − A.
[[nodiscard]] inline dense_matrix laplacian(const graph& g) {
  return weighted_laplacian(g, [](int, int) { return 1.0; });
}

/// The symmetric gossip matrix W = I − L_w, with W_ij = gossip_weight(scheme, deg_i, deg_j) on edges and
/// W_ii = 1 − Σ_j W_ij. Doubly stochastic by construction.
[[nodiscard]] inline dense_matrix mixing_matrix(const graph& g, weight_scheme scheme = weight_scheme::uniform) {
  dense_matrix w = weighted_laplacian(g, [&](int i, int j) { return gossip_weight(scheme, g.degree(i), g.degree(j)); });
  for (int i = 0; i < w.rows(); ++i)
    for (int j = 0; j < w.cols(); ++j) w(i, j) = (i == j ? 1.0 : 0.0) - w(i, j);
  return w;
}

/// True if `m` is square and |m_ij − m_ji| ≤ tolerance for all i, j.
[[nodiscard]] inline bool is_symmetric(const dense_matrix& m, double tolerance = 1e-12) {
  if (m.rows() != m.cols()) return false;
  for (int i = 0; i < m.rows(); ++i)
    for (int j = 0; j < i; ++j)
      if (std::abs(m(i, j) - m(j, i)) > tolerance) return false;
  return true;
}

/// True if `m` is square, has no entry below −tolerance, and every row and column sums to 1 within tolerance.
[[nodiscard]] inline bool is_doubly_stochastic(const dense_matrix& m, double tolerance = 1e-12) {
  if (m.rows() != m.cols()) return false;
  for (int i = 0; i < m.rows(); ++i) {
    double row_sum = 0.0, column_sum = 0.0;
    for (int j = 0; j < m.cols(); ++j) {
      if (m(i, j) < -tolerance) return false;
      row_sum += m(i, j);
      column_sum += m(j, i);
    }
    if (std::abs(row_sum - 1.0) > tolerance || std::abs(column_sum - 1.0) > tolerance) return false;
  }
  return true;
}

}  // namespace decent::topology
