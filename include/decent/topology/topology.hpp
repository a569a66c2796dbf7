#pragma once
/// @file
/// @brief The Topology concept (who talks to whom) and `graph`, the static undirected graph every family builds.
///
/// Neighbour lists have a fixed order: algorithms iterate them in that order, so schedules and summation orders
/// are deterministic. Ranks are `int` in [0, size()).

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <decent/core/error.hpp>
#include <decent/core/fingerprint.hpp>

namespace decent::topology {

/// Opt-in tag: a type models `topology` only if it declares `using topology_concept = decent::topology::topology_tag;`.
struct topology_tag {};

/// A communication topology over ranks 0..size()−1.
///
/// `t.neighbors(rank, step)` lists the ranks `rank` talks to at synchronous step `step` (static topologies ignore
/// the step); `T::time_varying` says at compile time whether the answer may depend on the step.
template <class T>
concept topology = std::same_as<typename T::topology_concept, topology_tag> &&
                   std::same_as<std::remove_cv_t<decltype(T::time_varying)>, bool> &&
                   requires(const T& t, int rank, std::int64_t step) {
                     typename std::bool_constant<T::time_varying>;  // a constant expression
                     { t.size() } -> std::convertible_to<int>;
                     { t.neighbors(rank, step) } -> std::convertible_to<std::span<const int>>;
                   };

/// A fingerprint of a topology for agreement checks: its size and every neighbour list (of steps 0..15 when it
/// varies in time).
template <topology T>
[[nodiscard]] std::uint64_t topology_fingerprint(const T& t) {
  fingerprint f;
  f.add(static_cast<int>(t.size())).add(T::time_varying);
  for (std::int64_t step = 0; step < (T::time_varying ? 16 : 1); ++step)
    for (int i = 0; i < static_cast<int>(t.size()); ++i) {
      const std::span<const int> peers = t.neighbors(i, step);
      f.add(static_cast<std::uint64_t>(peers.size()));
      for (const int j : peers) f.add(j);
    }
  return f.value();
}

/// A static undirected simple graph with adjacency lists in a fixed order, and a name (its topology spec, e.g.
/// "ring:8") used in every error message.
class graph {
 public:
  /// Opts in to the `topology` concept.
  using topology_concept = topology_tag;
  /// Static: neighbours do not depend on the step.
  static constexpr bool time_varying = false;

  /// A graph on n vertices with `adjacency[i]` the ordered neighbours of i.
  /// @throw invalid_argument if n < 1 or `adjacency.size() != n`.
  /// @throw topology_error on a neighbour out of range, a self loop, a duplicate neighbour, or an edge i→j without
  /// its reverse j→i (the graph must be undirected).
  graph(int n, const std::vector<std::vector<int>>& adjacency, std::string name) : name_(std::move(name)) {
    expects(n >= 1, "graph ", name_, ": needs at least one vertex, got n = ", n);
    expects(adjacency.size() == static_cast<std::size_t>(n), "graph ", name_, ": n is ", n, " but ",
            adjacency.size(), " adjacency lists were given");
    offsets_.reserve(adjacency.size() + 1);
    offsets_.push_back(0);
    for (const std::vector<int>& list : adjacency) {
      adjacency_.insert(adjacency_.end(), list.begin(), list.end());
      offsets_.push_back(adjacency_.size());
    }
    validate();
  }

  /// The graph with the given undirected edges: each edge (i, j) appends j to N(i) and i to N(j), in list order.
  /// @throw topology_error on a vertex out of range, and as the constructor on self loops or duplicate edges.
  [[nodiscard]] static graph from_edges(int n, const std::vector<std::pair<int, int>>& edges, std::string name) {
    expects(n >= 1, "graph ", name, ": needs at least one vertex, got n = ", n);
    std::vector<std::vector<int>> adjacency(static_cast<std::size_t>(n));
    for (const auto& [i, j] : edges) {
      expects<topology_error>(0 <= i && i < n && 0 <= j && j < n, "graph ", name, ": edge ", i, "-", j,
                              " has a vertex out of range [0, ", n, ")");
      adjacency[static_cast<std::size_t>(i)].push_back(j);
      if (i != j) adjacency[static_cast<std::size_t>(j)].push_back(i);  // a self loop is reported by validate()
    }
    return graph(n, adjacency, std::move(name));
  }

  /// Number of vertices (workers).
  [[nodiscard]] int size() const noexcept { return static_cast<int>(offsets_.size()) - 1; }

  /// The ordered neighbours of `rank`.
  /// @throw invalid_argument if `rank` is out of range.
  [[nodiscard]] std::span<const int> neighbors(int rank) const {
    check_rank(rank);
    const auto r = static_cast<std::size_t>(rank);
    return {adjacency_.data() + offsets_[r], offsets_[r + 1] - offsets_[r]};
  }

  /// The ordered neighbours of `rank`; the step is ignored (static graph).
  /// @throw invalid_argument if `rank` is out of range.
  [[nodiscard]] std::span<const int> neighbors(int rank, std::int64_t /*step*/) const { return neighbors(rank); }

  /// Number of neighbours of `rank`.
  /// @throw invalid_argument if `rank` is out of range.
  [[nodiscard]] int degree(int rank) const { return static_cast<int>(neighbors(rank).size()); }

  /// Largest degree over all vertices.
  [[nodiscard]] int max_degree() const noexcept {
    std::size_t largest = 0;
    for (std::size_t r = 0; r + 1 < offsets_.size(); ++r) largest = std::max(largest, offsets_[r + 1] - offsets_[r]);
    return static_cast<int>(largest);
  }

  /// Number of undirected edges.
  [[nodiscard]] int num_edges() const noexcept { return static_cast<int>(adjacency_.size() / 2); }

  /// Every undirected edge once, as (i, j) with i < j, ordered by i and then by the order of N(i).
  [[nodiscard]] std::vector<std::pair<int, int>> edges() const {
    std::vector<std::pair<int, int>> result;
    result.reserve(adjacency_.size() / 2);
    for (int i = 0; i < size(); ++i)
      for (const int j : neighbors(i))
        if (i < j) result.emplace_back(i, j);
    return result;
  }

  /// The name given at construction (the topology spec for built-in families).
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  void check_rank(int rank) const {
    expects(0 <= rank && rank < size(), "rank ", rank, " out of range for ", name_, " (ranks are 0..", size() - 1, ")");
  }

  void validate() const {
    const int n = size();
    std::vector<std::vector<int>> sorted(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      std::vector<int>& list = sorted[static_cast<std::size_t>(i)];
      const std::span<const int> neighbours = neighbors(i);
      list.assign(neighbours.begin(), neighbours.end());
      std::sort(list.begin(), list.end());
      for (std::size_t k = 0; k < list.size(); ++k) {
        const int j = list[k];
        expects<topology_error>(0 <= j && j < n, "graph ", name_, ": vertex ", i, " has neighbour ", j,
                                " out of range [0, ", n, ")");
        expects<topology_error>(j != i, "graph ", name_, ": vertex ", i,
                                " lists itself as a neighbour (self loops are not allowed)");
        expects<topology_error>(k == 0 || list[k - 1] != j, "graph ", name_, ": vertex ", i, " lists neighbour ", j,
                                " twice (duplicate edges are not allowed)");
      }
    }
    for (int i = 0; i < n; ++i)
      for (const int j : neighbors(i)) {
        const std::vector<int>& back = sorted[static_cast<std::size_t>(j)];
        expects<topology_error>(std::binary_search(back.begin(), back.end(), i), "graph ", name_, ": edge ", i, "->", j,
                                " has no reverse edge ", j, "->", i, ": the graph must be undirected");
      }
  }

  std::string name_;
  std::vector<std::size_t> offsets_;  // N(i) = adjacency_[offsets_[i], offsets_[i + 1])
  std::vector<int> adjacency_;
};

static_assert(topology<graph>);

/// The result of a breadth-first search from one root.
struct bfs_result {
  std::vector<int> distance;  ///< hops from the root; −1 for vertices the root cannot reach
  std::vector<int> parent;    ///< the vertex that discovered each vertex; −1 for the root and unreached vertices
  std::vector<int> order;     ///< vertices in visit order, root first; shorter than n iff the graph is disconnected
};

/// Breadth-first search from `root`, visiting neighbours in adjacency-list order (so the result is deterministic:
/// each vertex's parent is the first visited vertex listing it).
/// @throw invalid_argument if `root` is out of range.
[[nodiscard]] inline bfs_result breadth_first_search(const graph& g, int root) {
  (void)g.neighbors(root);  // range check with the graph's message
  const auto n = static_cast<std::size_t>(g.size());
  bfs_result result{std::vector<int>(n, -1), std::vector<int>(n, -1), {}};
  result.order.reserve(n);
  result.distance[static_cast<std::size_t>(root)] = 0;
  result.order.push_back(root);
  for (std::size_t head = 0; head < result.order.size(); ++head) {
    const int v = result.order[head];
    for (const int w : g.neighbors(v)) {
      const auto wi = static_cast<std::size_t>(w);
      if (result.distance[wi] >= 0) continue;
      result.distance[wi] = result.distance[static_cast<std::size_t>(v)] + 1;
      result.parent[wi] = v;
      result.order.push_back(w);
    }
  }
  return result;
}

}  // namespace decent::topology
