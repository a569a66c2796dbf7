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

/// Optional tag of the topologies decent ships (a user's topology need not declare it).
struct topology_tag {};

/// A communication topology over ranks 0..size()−1: `t.size()` and the ordered neighbours of a rank, either
/// at a synchronous step (`t.neighbors(rank, step)`) or for every step (`t.neighbors(rank)`, a static topology).
///
/// Everything else has a default, asked through the free functions below, which use a member when the type has
/// one: `is_time_varying(t)` (member `is_time_varying()`, else a `static constexpr bool time_varying`, else
/// false — a type with only `neighbors(rank, step)` that does vary must say so), `to_graph(t, step)` (member
/// `graph_at(step)`, else built from the neighbour lists), `spanning_trees(t)` (member `spanning_trees()`, else
/// the graph itself when it is a tree). Every rule reaches the topology through them, so a user's own type
/// works with gossip, RelaySum (a tree), Choco and A²CiD² alike.
template <class T>
concept topology = requires(const T& t, int rank) {
  { t.size() } -> std::convertible_to<int>;
} && (requires(const T& t, int rank, std::int64_t step) {
       { t.neighbors(rank, step) } -> std::convertible_to<std::span<const int>>;
     } || requires(const T& t, int rank) {
       { t.neighbors(rank) } -> std::convertible_to<std::span<const int>>;
     });

/// The ordered neighbours of `rank` at step `step` (the step is not passed to a static `neighbors(rank)`).
template <topology T>
[[nodiscard]] std::span<const int> neighbors_of(const T& t, int rank, std::int64_t step) {
  if constexpr (requires { { t.neighbors(rank, step) } -> std::convertible_to<std::span<const int>>; })
    return t.neighbors(rank, step);
  else
    return t.neighbors(rank);
}

/// Whether the neighbour lists may depend on the step: the member `is_time_varying()` (a value: `any_topology`
/// knows only at run time), else the constant `T::time_varying`, else false.
template <topology T>
[[nodiscard]] bool is_time_varying(const T& t) {
  if constexpr (requires { { t.is_time_varying() } -> std::convertible_to<bool>; })
    return t.is_time_varying();
  else if constexpr (requires { { T::time_varying } -> std::convertible_to<bool>; })
    return T::time_varying;
  else
    return false;
}

/// The name of a topology in messages: its `name()` when it has one.
template <topology T>
[[nodiscard]] std::string name_of(const T& t) {
  if constexpr (requires { { t.name() } -> std::convertible_to<std::string>; }) return std::string(t.name());
  else return detail::concat("a topology of ", static_cast<int>(t.size()), " workers");
}

/// A fingerprint of a topology for agreement checks: its size and every neighbour list (of steps 0..15 when it
/// varies in time).
template <topology T>
[[nodiscard]] std::uint64_t topology_fingerprint(const T& t) {
  const bool varies = is_time_varying(t);
  fingerprint f;
  f.add(static_cast<int>(t.size())).add(varies);
  for (std::int64_t step = 0; step < (varies ? 16 : 1); ++step)
    for (int i = 0; i < static_cast<int>(t.size()); ++i) {
      const std::span<const int> peers = neighbors_of(t, i, step);
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

/// True if every vertex can reach every other.
[[nodiscard]] inline bool is_connected(const graph& g) {
  return breadth_first_search(g, 0).order.size() == static_cast<std::size_t>(g.size());
}

/// True if `g` is connected and has n − 1 edges (a spanning tree, as RelaySum needs).
[[nodiscard]] inline bool is_tree(const graph& g) { return g.num_edges() == g.size() - 1 && is_connected(g); }

/// Throws unless `g` is connected.
/// @throw topology_error naming an unreachable worker and the fix.
inline void require_connected(const graph& g) {
  const bfs_result search = breadth_first_search(g, 0);
  if (search.order.size() == static_cast<std::size_t>(g.size())) return;
  const auto unreachable = std::find(search.distance.begin(), search.distance.end(), -1) - search.distance.begin();
  throw topology_error(detail::concat("topology ", g.name(), " is not connected: worker ", unreachable,
                                      " cannot be reached from worker 0; use a topology in which every worker can "
                                      "reach every other (add the missing edges)"));
}

/// Throws unless `g` is a tree.
/// @throw topology_error saying why (disconnected, or how many edges too many) and naming the tree topologies to use.
inline void require_tree(const graph& g) {
  if (is_tree(g)) return;
  const std::string why = is_connected(g) ? detail::concat("it has ", g.num_edges(), " edges, a tree on ", g.size(),
                                                           " workers has ", g.size() - 1)
                                          : std::string("it is not connected");
  throw topology_error(detail::concat("topology ", g.name(), " is not a tree (", why,
                                      "): relaysgd needs a tree: use binary-tree:N, double-binary-tree:N, or "
                                      "bfs:0:<your spec> (here bfs:0:",
                                      g.name(), "; in code: topology::bfs_spanning_tree(graph, 0))"));
}

/// The graph of step `step`: the member `graph_at(step)` when the type has one, the graph itself for a `graph`
/// (or a type derived from it), else built from `neighbors_of` (and checked like any graph: undirected, no self
/// loops or duplicates).
template <topology T>
[[nodiscard]] graph to_graph(const T& t, std::int64_t step) {
  if constexpr (requires { { t.graph_at(step) } -> std::convertible_to<graph>; }) {
    return t.graph_at(step);
  } else if constexpr (std::derived_from<T, graph>) {
    return static_cast<const graph&>(t);
  } else {
    std::vector<std::vector<int>> lists(static_cast<std::size_t>(t.size()));
    for (int i = 0; i < static_cast<int>(t.size()); ++i) {
      const std::span<const int> peers = neighbors_of(t, i, step);
      lists[static_cast<std::size_t>(i)].assign(peers.begin(), peers.end());
    }
    return graph(static_cast<int>(t.size()), lists, name_of(t));
  }
}

/// Throws unless `t` is static, for algorithms that fix their neighbours at construction (`who`: e.g. "choco").
template <topology T>
void require_static(const T& t, const char* who) {
  expects<topology_error>(!is_time_varying(t), who, " needs a static topology; ", name_of(t), " changes every step");
}

/// The one tree of a topology that is a static tree: its graph (the default of `spanning_trees`, which types with
/// a `spanning_trees()` member may fall back to).
/// @throw topology_error naming the fix when the graph has a cycle, is disconnected or varies in time.
template <topology T>
[[nodiscard]] std::vector<graph> single_spanning_tree(const T& t) {
  expects<topology_error>(!is_time_varying(t), "relaysgd needs a static tree, but ", name_of(t),
                          " changes every step: use binary-tree:N, double-binary-tree:N, or bfs:0:<your spec>");
  graph g = to_graph(t, 0);
  require_tree(g);
  return {std::move(g)};
}

/// The spanning trees RelaySum relays over: the member `spanning_trees()` when the type has one (both trees of a
/// double binary tree), else `single_spanning_tree`.
template <topology T>
[[nodiscard]] std::vector<graph> spanning_trees(const T& t) {
  if constexpr (requires { { t.spanning_trees() } -> std::convertible_to<std::vector<graph>>; }) return t.spanning_trees();
  else return single_spanning_tree(t);
}

}  // namespace decent::topology
