#pragma once
/// @file
/// @brief `parse`: a topology from a spec such as "ring:8" (the decent-sim `--topology` contract). Text in,
/// `any_topology` out; algorithms never include it (they take topologies, not text).

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <decent/core/error.hpp>
#include <decent/topology/any_topology.hpp>
#include <decent/topology/topologies.hpp>

namespace decent::topology {

// max_workers (topologies.hpp): the largest count a spec may give (workers, rows, columns, degree).

/// One accepted spec form: the family name, its form, and how many ':'-separated fields follow the name.
struct spec_form {
  std::string_view family;  ///< e.g. "random-regular"
  std::string_view form;    ///< e.g. "random-regular:N:D[:SEED]"
  std::size_t min_fields;   ///< fields after the name, at least
  std::size_t max_fields;   ///< fields after the name, at most
};

/// Every spec form `parse` accepts, in the order error messages list them.
inline constexpr std::array<spec_form, 13> spec_forms{{
    {"ring", "ring:N", 1, 1},
    {"chain", "chain:N", 1, 1},
    {"star", "star:N", 1, 1},
    {"complete", "complete:N", 1, 1},
    {"torus", "torus:RxC", 1, 1},
    {"hypercube", "hypercube:N", 1, 1},
    {"exponential", "exponential:N", 1, 1},
    {"one-peer-exponential", "one-peer-exponential:N", 1, 1},
    {"binary-tree", "binary-tree:N", 1, 1},
    {"double-binary-tree", "double-binary-tree:N", 1, 1},
    {"random-regular", "random-regular:N:D[:SEED]", 2, 3},
    {"edges", "edges:FILE", 1, 1},
    {"bfs", "bfs:ROOT:SPEC", 2, 2},
}};

/// Builds the topology a spec names: ring:N | chain:N | star:N | complete:N | torus:RxC | hypercube:N |
/// exponential:N | one-peer-exponential:N | binary-tree:N | double-binary-tree:N | random-regular:N:D[:SEED]
/// (SEED defaults to 0) | edges:FILE | bfs:ROOT:SPEC (BFS spanning tree of the union graph of another spec).
/// @throw invalid_argument with one line naming the spec on an unknown family (listing the accepted forms), a
/// missing, extra, non-numeric or negative field, or values the family rejects (n too small, hypercube not a
/// power of 2, ...); topology_error for bfs of a disconnected graph.
[[nodiscard]] inline any_topology parse(std::string_view spec) {
  const std::size_t colon = spec.find(':');
  const std::string_view family = spec.substr(0, colon);
  const auto known = std::find_if(spec_forms.begin(), spec_forms.end(),
                                  [&](const spec_form& f) { return f.family == family; });
  if (known == spec_forms.end()) {
    std::string forms;
    for (const spec_form& f : spec_forms) forms += detail::concat(forms.empty() ? "" : " | ", f.form);
    throw invalid_argument(detail::concat("unknown topology '", spec, "'; accepted forms: ", forms));
  }
  const auto fail = [&](const auto&... what) {
    throw invalid_argument(detail::concat("topology spec '", spec, "': ", what..., " (form: ", known->form, ")"));
  };
  // The ':'-separated fields after the name; FILE (edges) and SPEC (bfs) take the rest and may contain ':'.
  const bool last_takes_rest = family == "edges" || family == "bfs";
  std::vector<std::string_view> fields;
  if (colon != std::string_view::npos) {
    for (std::string_view rest = spec.substr(colon + 1);; rest.remove_prefix(rest.find(':') + 1)) {
      const bool last = last_takes_rest && fields.size() + 1 == known->max_fields;
      fields.push_back(last ? rest : rest.substr(0, rest.find(':')));
      if (last || rest.find(':') == std::string_view::npos) break;
    }
  }
  if (fields.size() > known->max_fields) fail("too many fields");
  if (fields.size() < known->min_fields || fields.back().empty()) fail("a field is missing");
  const auto number = [&](std::string_view field, const char* what) {
    std::uint64_t value = 0;
    const auto [end, status] = std::from_chars(field.data(), field.data() + field.size(), value);
    if (status == std::errc::result_out_of_range) fail(what, " is too large, got '", field, "'");
    if (status != std::errc{} || end != field.data() + field.size())
      fail(what, " must be a non-negative integer, got '", field, "'");
    return value;
  };
  const auto count = [&](std::string_view field, const char* what) {
    const std::uint64_t value = number(field, what);
    if (value > max_workers) fail(what, " is too large, got '", field, "' (at most ", max_workers, ")");
    return static_cast<int>(value);
  };

  if (family == "edges") return from_edge_file(std::string(fields[0]));
  if (family == "bfs") {
    const int root = count(fields[0], "ROOT");
    return bfs_spanning_tree(parse(fields[1]).union_graph(), root);
  }
  if (family == "torus") {
    const std::size_t x = fields[0].find('x');
    if (x == std::string_view::npos) fail("expected RxC, got '", fields[0], "'");
    return torus(count(fields[0].substr(0, x), "R"), count(fields[0].substr(x + 1), "C"));
  }
  if (family == "random-regular")
    return random_regular(count(fields[0], "N"), count(fields[1], "D"), fields.size() == 3 ? number(fields[2], "SEED") : 0);
  const int n = count(fields[0], "N");
  if (family == "ring") return ring(n);
  if (family == "chain") return chain(n);
  if (family == "star") return star(n);
  if (family == "complete") return complete(n);
  if (family == "hypercube") return hypercube(n);
  if (family == "exponential") return exponential(n);
  if (family == "one-peer-exponential") return one_peer_exponential(n);
  if (family == "binary-tree") return binary_tree(n);
  return double_binary_tree(n);
}

}  // namespace decent::topology
