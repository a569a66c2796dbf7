#pragma once
/// @file
/// @brief `decent-sim --describe`: one JSON object summarising a topology.
///
/// Keys: topology, n, edges, max_degree, diameter, is_tree, time_varying, spectral_gap (of the default
/// gossip matrix W, uniform weights), algebraic_connectivity (unweighted Laplacian), and A²CiD²'s rate, chi1,
/// chi2, eta, alpha_tilde (docs/algorithms.md §1.3 conventions). A time-varying topology is described by the union
/// of its graphs over one period (for one-peer-exponential:N, the hypercube). What would cost too much is `null`: the
/// spectral keys and the A²CiD² constants above `topology::max_dense_workers` workers (dense O(n³) analyses), the
/// diameter above `topology::max_diameter_cost`; the other keys are linear in the graph's size.

#include <cstdio>
#include <iomanip>
#include <sstream>
#include <string>

#include <decent/topology/analysis.hpp>
#include <decent/topology/any_topology.hpp>
#include <decent/topology/spec.hpp>
#include <decent/topology/weights.hpp>

namespace decent::sim {

/// The JSON summary of the topology `spec` for the A²CiD² communication rate `rate`.
inline std::string describe(const std::string& spec, double rate) {
  expects(rate > 0, "--rate must be > 0, got ", rate);
  const topology::any_topology topo = topology::parse(spec);
  const topology::graph g = topo.is_time_varying() ? topo.union_graph() : topo.graph_at(0);
  topology::require_connected(g);
  const bool dense = g.size() <= topology::max_dense_workers;
  const bool bfs_all = static_cast<double>(g.size()) *
                           (static_cast<double>(g.size()) + 2.0 * static_cast<double>(g.num_edges())) <=
                       topology::max_diameter_cost;
  std::ostringstream os;
  os << std::setprecision(12);
  // JSON string escaping: quotes, backslashes and control characters (a file name may hold any of them).
  std::string escaped;
  for (const char c : spec) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      escaped += '\\';
      escaped += c;
    } else if (u < 0x20 || u == 0x7f) {
      char code[8];
      std::snprintf(code, sizeof code, "\\u%04x", static_cast<unsigned>(u));
      escaped += code;
    } else {
      escaped += c;
    }
  }
  os << "{\"topology\": \"" << escaped << "\", \"n\": " << g.size() << ", \"edges\": " << g.num_edges()
     << ", \"max_degree\": " << g.max_degree() << ", \"diameter\": ";
  if (bfs_all) os << topology::diameter(g);
  else os << "null";
  os << ", \"is_tree\": " << (topology::is_tree(g) ? "true" : "false")
     << ", \"time_varying\": " << (topo.is_time_varying() ? "true" : "false");
  if (dense) {
    const topology::acid_constants acid = topology::a2cid2_constants(g, rate);
    os << ", \"spectral_gap\": " << topology::spectral_gap(topology::mixing_matrix(g))
       << ", \"algebraic_connectivity\": " << topology::algebraic_connectivity(g) << ", \"rate\": " << rate
       << ", \"chi1\": " << acid.chi1 << ", \"chi2\": " << acid.chi2 << ", \"eta\": " << acid.eta
       << ", \"alpha_tilde\": " << acid.alpha_tilde << "}";
  } else {
    os << ", \"spectral_gap\": null, \"algebraic_connectivity\": null, \"rate\": " << rate
       << ", \"chi1\": null, \"chi2\": null, \"eta\": null, \"alpha_tilde\": null}";
  }
  return os.str();
}

}  // namespace decent::sim
