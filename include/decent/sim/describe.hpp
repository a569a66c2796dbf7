#pragma once
/// @file
/// @brief `decent-sim --describe`: one JSON object summarising a topology.
///
/// Keys: topology, n, edges, max_degree, diameter, is_tree, time_varying, spectral_gap (of the default
/// gossip matrix W, uniform weights), algebraic_connectivity (unweighted Laplacian), and A²CiD²'s rate, chi1,
/// chi2, eta, alpha_tilde (docs/algorithms.md §1.3 conventions). A time-varying topology is described by the union
/// of its graphs over one period (for one-peer-exponential:N, the hypercube).

#include <cstdio>
#include <iomanip>
#include <sstream>
#include <string>

#include <decent/topology/analysis.hpp>
#include <decent/topology/any_topology.hpp>
#include <decent/topology/weights.hpp>

namespace decent::sim {

/// The JSON summary of the topology `spec` for the A²CiD² communication rate `rate`.
inline std::string describe(const std::string& spec, double rate) {
  expects(rate > 0, "--rate must be > 0, got ", rate);
  const topology::any_topology topo = topology::parse(spec);
  const topology::graph g = topo.is_time_varying() ? topo.union_graph() : topo.graph_at(0);
  topology::require_connected(g);
  const topology::acid_constants acid = topology::a2cid2_constants(g, rate);
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
     << ", \"max_degree\": " << g.max_degree() << ", \"diameter\": " << topology::diameter(g)
     << ", \"is_tree\": " << (topology::is_tree(g) ? "true" : "false")
     << ", \"time_varying\": " << (topo.is_time_varying() ? "true" : "false")
     << ", \"spectral_gap\": " << topology::spectral_gap(topology::mixing_matrix(g))
     << ", \"algebraic_connectivity\": " << topology::algebraic_connectivity(g) << ", \"rate\": " << rate
     << ", \"chi1\": " << acid.chi1 << ", \"chi2\": " << acid.chi2 << ", \"eta\": " << acid.eta
     << ", \"alpha_tilde\": " << acid.alpha_tilde << "}";
  return os.str();
}

}  // namespace decent::sim
