#pragma once
/// @file
/// @brief Properties of a graph: connectivity and tree checks, diameter, spectral quantities, effective
/// resistance, and the A²CiD² constants χ₁, χ₂, η, α̃ (docs/algorithms.md §1.3).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include <decent/core/error.hpp>
#include <decent/detail/linalg.hpp>
#include <decent/topology/topology.hpp>
#include <decent/topology/weights.hpp>

namespace decent::detail {
/// L + 11ᵀ/n for an n×n Laplacian L: invertible iff L's graph is connected, and its inverse equals L⁺ + 11ᵀ/n.
[[nodiscard]] inline dense_matrix plus_averaging(dense_matrix l) {
  for (int r = 0; r < l.rows(); ++r)
    for (double& x : l.row(r)) x += 1.0 / l.rows();
  return l;
}
}  // namespace decent::detail

namespace decent::topology {

// is_connected, is_tree, require_connected, require_tree: topology/topology.hpp (spanning_trees uses them).

/// The largest cost n·(n + 2|E|) (vertices and edge ends visited by one breadth-first search per worker) that
/// `diameter` takes: 2^32; ring:37000 is below it (3n²), torus:1024x1024 far above.
inline constexpr double max_diameter_cost = 4294967296.0;

/// The diameter: the largest number of hops between two workers (0 for one worker). O(n·|E|).
/// @throw topology_error if `g` is not connected; invalid_argument if n·(n + 2|E|) exceeds `max_diameter_cost`.
[[nodiscard]] inline int diameter(const graph& g) {
  const double cost = static_cast<double>(g.size()) * (static_cast<double>(g.size()) + 2.0 * static_cast<double>(g.num_edges()));
  expects(cost <= max_diameter_cost, "the diameter of ", g.name(), " needs ", cost, " steps of breadth-first search "
          "(one per worker); it is computed up to ", max_diameter_cost);
  require_connected(g);
  int result = 0;
  for (int root = 0; root < g.size(); ++root) {
    const std::vector<int> distance = breadth_first_search(g, root).distance;
    result = std::max(result, *std::max_element(distance.begin(), distance.end()));
  }
  return result;
}

/// The spectral gap 1 − max(|λ₂|, |λ_n|) of a symmetric mixing matrix with eigenvalues λ₁ ≥ λ₂ ≥ … ≥ λ_n
/// (λ₁ = 1 for a doubly stochastic W): one minus the second largest eigenvalue modulus. Gossip contracts the
/// disagreement by (1 − gap) per step; 0 means no convergence. Defined as 1 for a 1×1 matrix.
/// @throw invalid_argument if `w` is not square and symmetric.
[[nodiscard]] inline double spectral_gap(const dense_matrix& w) {
  expects(is_symmetric(w), "spectral_gap: needs a square symmetric mixing matrix");
  const std::vector<double> lambda = decent::detail::symmetric_eigenvalues(w);  // ascending
  if (lambda.size() < 2) return 1.0;
  return 1.0 - std::max(std::abs(lambda[lambda.size() - 2]), std::abs(lambda.front()));
}

/// The algebraic connectivity: the second smallest eigenvalue of the unweighted Laplacian (0 iff disconnected).
/// @throw invalid_argument if `g` has fewer than 2 vertices.
[[nodiscard]] inline double algebraic_connectivity(const graph& g) {
  expects(g.size() >= 2, "algebraic_connectivity: ", g.name(), " needs at least 2 workers");
  return decent::detail::symmetric_eigenvalues(laplacian(g))[1];
}

/// The effective resistance (e_i − e_j)ᵀ L⁺ (e_i − e_j) for a weighted Laplacian L of a connected graph (edge weights
/// are conductances). Computed with one solve of (L + 11ᵀ/n)·x = e_i − e_j, which equals L⁺ on vectors orthogonal to 1.
/// @throw invalid_argument if i or j is out of range, or L + 11ᵀ/n is singular (the graph is disconnected).
[[nodiscard]] inline double effective_resistance(const dense_matrix& laplacian_matrix, int i, int j) {
  const int n = laplacian_matrix.rows();
  expects(laplacian_matrix.cols() == n, "effective_resistance: needs a square Laplacian");
  expects(0 <= i && i < n && 0 <= j && j < n, "effective_resistance: vertices ", i, " and ", j,
          " must be in [0, ", n, ")");
  std::vector<double> b(static_cast<std::size_t>(n), 0.0);
  b[static_cast<std::size_t>(i)] += 1.0;
  b[static_cast<std::size_t>(j)] -= 1.0;
  const std::vector<double> x = decent::detail::solve(decent::detail::plus_averaging(laplacian_matrix), b);
  return x[static_cast<std::size_t>(i)] - x[static_cast<std::size_t>(j)];
}

/// The effective resistance between workers i and j when every edge is a unit resistor (unweighted Laplacian):
/// the path length on a tree, k(n − k)/n between workers k hops apart on a ring of n.
/// @throw topology_error if `g` is not connected; invalid_argument if i or j is out of range.
[[nodiscard]] inline double effective_resistance(const graph& g, int i, int j) {
  require_connected(g);
  return effective_resistance(laplacian(g), i, j);
}

/// The Moore–Penrose pseudoinverse L⁺ = (L + 11ᵀ/n)⁻¹ − 11ᵀ/n of the Laplacian of a connected graph.
/// @throw invalid_argument if `laplacian_matrix` is not square or L + 11ᵀ/n is singular.
[[nodiscard]] inline dense_matrix laplacian_pseudoinverse(const dense_matrix& laplacian_matrix) {
  dense_matrix result = decent::detail::inverse(decent::detail::plus_averaging(laplacian_matrix));
  for (int r = 0; r < result.rows(); ++r)
    for (double& x : result.row(r)) x -= 1.0 / result.rows();
  return result;
}

/// A²CiD²'s graph constants for a communication rate r (docs/algorithms.md §1.3).
struct acid_constants {
  double chi1;         ///< χ₁ = 1 / λ₂(Λ): inverse algebraic connectivity of the edge-rate Laplacian Λ
  double chi2;         ///< χ₂ = ½ max over edges of (e_i − e_j)ᵀ Λ⁺ (e_i − e_j): half the largest edge resistance
  double eta;          ///< η = 1 / (2√(χ₁χ₂)): rate at which x and x̃ mix between events
  double alpha_tilde;  ///< α̃ = ½√(χ₁/χ₂): step of x̃ toward the peer in a pairwise exchange
};

/// A²CiD²'s χ₁, χ₂, η, α̃ for `g` when every worker joins on average `rate` pairwise exchanges per gradient step.
///
/// Convention (time unit = one gradient per worker): each worker starts exchanges at rate r/2 with a uniformly
/// chosen neighbour, so edge (i, j) fires at λ_ij = (r/2)(1/deg_i + 1/deg_j) — r/deg on a regular graph, as in the
/// reference's L = r(I − W). Λ = Σ_{(i,j)∈E} λ_ij (e_i − e_j)(e_i − e_j)ᵀ. Then η ∝ r and α̃ does not depend on r.
/// Cycle of 8, r = 1: χ₁ = 3.41421, χ₂ = 0.875, η = 0.289281, α̃ = 0.987669.
/// @throw invalid_argument if `rate` is not positive or `g` has fewer than 2 workers.
/// @throw topology_error if `g` is not connected; invalid_argument above `max_dense_workers` workers.
/// The pairwise-exchange rate of edge (i, j) for a communication rate r: (r/2)(1/deg_i + 1/deg_j) — each worker
/// starts exchanges at rate r/2 with a uniform neighbour (= r/deg on regular graphs). The A²CiD² constants and
/// the event simulator both use it.
[[nodiscard]] inline double acid_edge_rate(const graph& g, int i, int j, double rate) {
  return 0.5 * rate * (1.0 / g.degree(i) + 1.0 / g.degree(j));
}

[[nodiscard]] inline acid_constants a2cid2_constants(const graph& g, double rate = 1.0) {
  expects(rate > 0.0 && std::isfinite(rate), "a2cid2_constants: the communication rate must be positive, got ", rate);
  expects(g.size() >= 2, "a2cid2_constants: ", g.name(), " needs at least 2 workers");
  require_dense_size(g, "A²CiD²'s constants (chi1, chi2, eta, alpha_tilde)");
  require_connected(g);
  // Λ is linear in r: the analysis runs at r = 1 (well conditioned for any rate) and χ₁, χ₂ scale as 1/r.
  const dense_matrix lambda = weighted_laplacian(g, [&](int i, int j) { return acid_edge_rate(g, i, j, 1.0); });
  const double chi1_at_1 = 1.0 / decent::detail::symmetric_eigenvalues(lambda)[1];
  const dense_matrix pinv = laplacian_pseudoinverse(lambda);
  double largest_resistance = 0.0;
  for (const auto& [i, j] : g.edges())
    largest_resistance = std::max(largest_resistance, pinv(i, i) + pinv(j, j) - 2.0 * pinv(i, j));
  const double chi1 = chi1_at_1 / rate, chi2 = 0.5 * largest_resistance / rate;
  expects(std::isfinite(chi1) && std::isfinite(chi2), "a2cid2_constants: the communication rate ", rate,
          " is too small (chi1 = ", chi1, ")");
  return {chi1, chi2, 0.5 / (std::sqrt(chi1) * std::sqrt(chi2)), 0.5 * std::sqrt(chi1) / std::sqrt(chi2)};
}

}  // namespace decent::topology
