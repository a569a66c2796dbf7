#pragma once
/// @file
/// @brief The built-in topology families: factories returning `graph` (named by their spec, e.g. "ring:8"),
/// `double_binary_tree` (RelaySum's two trees) and the time-varying `one_peer_exponential`.

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <decent/core/error.hpp>
#include <decent/core/rng.hpp>
#include <decent/topology/analysis.hpp>
#include <decent/topology/topology.hpp>

namespace decent::detail {

/// Adjacency lists under construction, indexed by rank.
struct adjacency_builder {
  std::vector<std::vector<int>> lists;  ///< lists[i] = the neighbours of i added so far, in order

  /// n empty lists.
  explicit adjacency_builder(int n) : lists(static_cast<std::size_t>(n)) {}

  /// Appends j to N(i) unless j == i or j is already listed (wrap-around on small rings, tori and exponential
  /// graphs makes some neighbours coincide).
  void add(int i, int j) {
    std::vector<int>& list = lists[static_cast<std::size_t>(i)];
    if (j != i && std::find(list.begin(), list.end(), j) == list.end()) list.push_back(j);
  }
};

/// The most undirected edges a generated topology or an edge file may have: 2^26 (adjacency lists of 512 MiB;
/// complete:11586 is the largest complete graph).
inline constexpr double max_edges = 67108864.0;

/// Throws invalid_argument unless a topology of `edges` undirected edges is within `max_edges`.
inline void require_edges(const std::string& name, double edges) {
  expects(edges <= max_edges, "topology ", name, " has ", edges, " edges, more than the ", max_edges,
          " a topology may have");
}

/// Throws invalid_argument "topology <name>: <what> must be at least <minimum>, got <value>" unless value ≥ minimum.
inline void require_at_least(const std::string& name, const char* what, long long value, long long minimum) {
  expects(value >= minimum, "topology ", name, ": ", what, " must be at least ", minimum, ", got ", value);
}

/// One random d-regular pairing on n vertices (d·n even): stubs are paired uniformly at random, a pair that
/// would make a self loop or a repeated edge is redrawn, and the attempt is abandoned (nullopt) when redraws keep
/// failing. Draws are taken from `rng` starting at `draw`, which is advanced. Lists are sorted.
inline std::optional<std::vector<std::vector<int>>> random_pairing(int n, int d, const random_stream& rng,
                                                                   std::uint64_t& draw) {
  std::vector<int> stubs;
  stubs.reserve(static_cast<std::size_t>(n) * static_cast<std::size_t>(d));
  for (int v = 0; v < n; ++v) stubs.insert(stubs.end(), static_cast<std::size_t>(d), v);
  std::vector<std::vector<int>> lists(static_cast<std::size_t>(n));
  std::size_t remaining = stubs.size(), failures = 0;
  while (remaining > 0) {
    const std::size_t a = rng.below(draw++, static_cast<std::uint32_t>(remaining));
    const std::size_t b = rng.below(draw++, static_cast<std::uint32_t>(remaining));
    const int u = stubs[a], v = stubs[b];
    std::vector<int>& nu = lists[static_cast<std::size_t>(u)];
    if (u != v && std::find(nu.begin(), nu.end(), v) == nu.end()) {
      nu.push_back(v);
      lists[static_cast<std::size_t>(v)].push_back(u);
      stubs[std::max(a, b)] = stubs[--remaining];  // remove both stubs, the later index first
      stubs[std::min(a, b)] = stubs[--remaining];
      failures = 0;
    } else if (++failures > 8 * remaining * remaining + 64) {
      return std::nullopt;  // (almost surely) no valid pair left
    }
  }
  for (std::vector<int>& list : lists) std::sort(list.begin(), list.end());
  return lists;
}

}  // namespace decent::detail

namespace decent::topology {

/// The ring (cycle) on n ≥ 2 workers; for n = 2 a single edge. Neighbour order as in A²CiD²'s reference:
/// even i → [i−1, i+1], odd i → [i+1, i−1] (mod n).
/// @throw invalid_argument if n < 2.
[[nodiscard]] inline graph ring(int n) {
  const std::string name = detail::concat("ring:", n);
  detail::require_at_least(name, "n", n, 2);
  detail::adjacency_builder b(n);
  for (int i = 0; i < n; ++i) {
    const int previous = (i + n - 1) % n, next = (i + 1) % n;
    b.add(i, i % 2 == 0 ? previous : next);
    b.add(i, i % 2 == 0 ? next : previous);
  }
  return graph(n, b.lists, name);
}

/// The chain (path) 0 − 1 − … − (n−1), n ≥ 2: N(0) = [1], N(i) = [i−1, i+1], N(n−1) = [n−2].
/// @throw invalid_argument if n < 2.
[[nodiscard]] inline graph chain(int n) {
  const std::string name = detail::concat("chain:", n);
  detail::require_at_least(name, "n", n, 2);
  detail::adjacency_builder b(n);
  for (int i = 0; i < n; ++i) {
    if (i > 0) b.add(i, i - 1);
    if (i + 1 < n) b.add(i, i + 1);
  }
  return graph(n, b.lists, name);
}

/// The star with centre 0, n ≥ 2: N(0) = [1, …, n−1], N(i) = [0].
/// @throw invalid_argument if n < 2.
[[nodiscard]] inline graph star(int n) {
  const std::string name = detail::concat("star:", n);
  detail::require_at_least(name, "n", n, 2);
  detail::adjacency_builder b(n);
  for (int i = 1; i < n; ++i) {
    b.add(0, i);
    b.add(i, 0);
  }
  return graph(n, b.lists, name);
}

/// The complete graph on n ≥ 2 workers; N(i) = every other rank in ascending order.
/// @throw invalid_argument if n < 2.
[[nodiscard]] inline graph complete(int n) {
  const std::string name = detail::concat("complete:", n);
  detail::require_at_least(name, "n", n, 2);
  detail::require_edges(name, 0.5 * n * (n - 1.0));
  std::vector<std::vector<int>> lists(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    std::vector<int>& list = lists[static_cast<std::size_t>(i)];
    list.reserve(static_cast<std::size_t>(n - 1));
    for (int j = 0; j < n; ++j)
      if (j != i) list.push_back(j);
  }
  return graph(n, lists, name);
}

/// The 2-D torus with `rows`×`cols` workers, rank = row·cols + col, 4-neighbour wrap-around in the order
/// [up, down, left, right]; coinciding neighbours (a side of 1 or 2) are listed once.
/// @throw invalid_argument if a side is below 1 or there are fewer than 2 workers.
[[nodiscard]] inline graph torus(int rows, int cols) {
  const std::string name = detail::concat("torus:", rows, "x", cols);
  detail::require_at_least(name, "R", rows, 1);
  detail::require_at_least(name, "C", cols, 1);
  detail::require_at_least(name, "R*C", static_cast<long long>(rows) * cols, 2);
  expects(static_cast<long long>(rows) * cols <= (1LL << 20), "topology ", name, ": R*C must be at most 2^20 workers");
  const int n = rows * cols;
  detail::adjacency_builder b(n);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const int i = r * cols + c;
      b.add(i, (r + rows - 1) % rows * cols + c);
      b.add(i, (r + 1) % rows * cols + c);
      b.add(i, r * cols + (c + cols - 1) % cols);
      b.add(i, r * cols + (c + 1) % cols);
    }
  return graph(n, b.lists, name);
}

/// The hypercube on n = 2^k ≥ 2 workers: N(i) = [i XOR 1, i XOR 2, …, i XOR n/2].
/// @throw invalid_argument if n < 2 or n is not a power of 2.
[[nodiscard]] inline graph hypercube(int n) {
  const std::string name = detail::concat("hypercube:", n);
  detail::require_at_least(name, "n", n, 2);
  expects(std::has_single_bit(static_cast<unsigned>(n)), "topology ", name, ": n must be a power of 2");
  detail::adjacency_builder b(n);
  for (int i = 0; i < n; ++i)
    for (int bit = 1; bit < n; bit *= 2) b.add(i, i ^ bit);
  return graph(n, b.lists, name);
}

/// The static exponential graph on n ≥ 2 workers: N(i) = [i + 1, i − 1, i + 2, i − 2, i + 4, …] (mod n) over all
/// 2^k < n, each neighbour listed once (for n a power of 2, i + n/2 ≡ i − n/2 is a single edge, unlike the A²CiD²
/// reference, which counts it twice).
/// @throw invalid_argument if n < 2.
[[nodiscard]] inline graph exponential(int n) {
  const std::string name = detail::concat("exponential:", n);
  detail::require_at_least(name, "n", n, 2);
  detail::adjacency_builder b(n);
  for (int i = 0; i < n; ++i)
    for (int hop = 1; hop < n; hop *= 2) {
      b.add(i, (i + hop) % n);
      b.add(i, (i - hop % n + n) % n);
    }
  return graph(n, b.lists, name);
}

/// RelaySum's binary tree on n ≥ 2 workers (a heap with an extra root link, docs/algorithms.md §2.3): N(0) = [1]; for
/// w ≥ 1, the parent ⌊w/2⌋ first, then the children 2w and 2w + 1 that are < n. `reversed` relabels w ↦ n−1−w
/// (lists keep their order). n = 8: [[1],[0,2,3],[1,4,5],[1,6,7],[2],[2],[3],[3]]; reversed:
/// [[4],[4],[5],[5],[6,1,0],[6,3,2],[7,5,4],[6]]. Diameter 2⌊log2 n⌋ for n a power of 2.
/// @throw invalid_argument if n < 2.
[[nodiscard]] inline graph binary_tree(int n, bool reversed = false) {
  const std::string name = detail::concat("binary-tree:", n, reversed ? " (reversed)" : "");
  detail::require_at_least(name, "n", n, 2);
  const auto label = [&](int w) { return reversed ? n - 1 - w : w; };
  detail::adjacency_builder b(n);
  for (int w = 0; w < n; ++w) {
    b.add(label(w), label(w == 0 ? 1 : w / 2));  // the root's only link is to 1; others list their parent first
    if (w == 0) continue;
    for (const int child : {2 * w, 2 * w + 1})
      if (child < n) b.add(label(w), label(child));
  }
  return graph(n, b.lists, name);
}

/// A seeded random d-regular graph on n workers, connected, with sorted neighbour lists. The same (n, d, seed)
/// gives the same graph on every machine (Philox stream keyed by (seed, n, d)). Stubs are paired at random,
/// redrawing pairs that would make a self loop or a repeated edge, and the whole pairing restarts when it gets stuck
/// or the result is disconnected; for d > (n−1)/2 the complement of a random (n−1−d)-regular graph is used.
/// Named "random-regular:N:D:SEED".
/// @throw invalid_argument unless 1 ≤ d < n, n·d is even, and d ≥ 2 or n = 2 (a connected graph must exist).
[[nodiscard]] inline graph random_regular(int n, int d, std::uint64_t seed = 0) {
  const std::string name = detail::concat("random-regular:", n, ":", d, ":", seed);
  detail::require_at_least(name, "N", n, 2);
  detail::require_at_least(name, "D", d, 1);
  expects(d < n, "topology ", name, ": D must be less than N");
  expects(static_cast<long long>(n) * d % 2 == 0, "topology ", name, ": N*D must be even");
  expects(d >= 2 || n == 2, "topology ", name, ": a 1-regular graph on more than 2 workers is disconnected");
  detail::require_edges(name, 0.5 * n * static_cast<double>(d));
  const bool complement = 2 * d > n - 1;
  const random_stream rng{seed, static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(d)};
  std::uint64_t draw = 0;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    std::optional<std::vector<std::vector<int>>> lists = detail::random_pairing(n, complement ? n - 1 - d : d, rng, draw);
    if (!lists) continue;
    if (complement) {
      std::vector<std::vector<int>> complemented(lists->size());
      for (int i = 0; i < n; ++i) {
        const std::vector<int>& sparse = (*lists)[static_cast<std::size_t>(i)];
        for (int j = 0; j < n; ++j)
          if (j != i && !std::binary_search(sparse.begin(), sparse.end(), j))
            complemented[static_cast<std::size_t>(i)].push_back(j);
      }
      lists = std::move(complemented);
    }
    graph g(n, *lists, name);
    if (is_connected(g)) return g;
  }
  throw error(detail::concat("topology ", name, ": no connected simple graph found in 1000 attempts"));
}

/// The BFS spanning tree of a connected graph from `root`: each vertex is joined to the vertex that discovered it
/// (neighbours visited in list order). N(v) = [parent, children in visit order]; distances from the root are those
/// of `g`. Named "bfs:ROOT:<name of g>".
/// @throw invalid_argument if `root` is out of range; topology_error if `g` is not connected.
[[nodiscard]] inline graph bfs_spanning_tree(const graph& g, int root = 0) {
  const bfs_result search = breadth_first_search(g, root);
  require_connected(g);
  std::vector<std::pair<int, int>> edges;
  for (const int v : std::span(search.order).subspan(1)) edges.emplace_back(search.parent[static_cast<std::size_t>(v)], v);
  return graph::from_edges(g.size(), edges, detail::concat("bfs:", root, ":", g.name()));
}

/// The largest count a spec or an edge file may give (workers, rows, columns, degree): 2^20.
inline constexpr std::uint64_t max_workers = std::uint64_t{1} << 20;
/// The longest line an edge file may have.
inline constexpr std::size_t max_edge_line = 4096;

/// The next line of `in` (without the newline) into `line`; false at the end. A line longer than `limit` is an
/// error (a file without newlines, such as /dev/zero, would otherwise be read whole).
inline bool read_bounded_line(std::istream& in, std::string& line, std::size_t limit, const std::string& where) {
  line.clear();
  for (int c = in.get(); c != std::char_traits<char>::eof(); c = in.get()) {
    if (c == '\n') return true;
    expects(line.size() < limit, where, ": a line longer than ", limit, " characters (is this an edge list?)");
    line.push_back(static_cast<char>(c));
  }
  return !line.empty();
}

/// Reads a user edge list: one edge "i j" per line (0-based ranks), `#` starts a comment, blank lines are skipped,
/// and an optional first line "n N" fixes the number of workers (otherwise 1 + the largest rank). Neighbour lists
/// follow the file order. Named "edges:<path>".
/// @throw invalid_argument naming the file and line on an unreadable file, a malformed line, a line longer than
/// `max_edge_line`, a negative or out-of-range rank (at most `max_workers` workers), a self loop or a repeated edge.
[[nodiscard]] inline graph from_edge_file(const std::string& path) {
  std::ifstream in(path);
  expects(in.good(), "edge file '", path, "' cannot be opened");
  std::vector<std::pair<int, int>> edges;
  std::map<std::pair<int, int>, int> first_line;  // undirected edge (min, max) → line it first appeared on
  std::optional<int> declared_n;
  int largest = -1, line_number = 0;
  for (std::string line; read_bounded_line(in, line, max_edge_line, detail::concat(path, ":", line_number + 1));) {
    ++line_number;
    const std::string content = line.substr(0, line.find('#'));
    std::istringstream fields(content);
    std::string first;
    if (!(fields >> first)) continue;  // blank or comment
    const auto fail = [&](const auto&... what) {
      throw invalid_argument(detail::concat(path, ":", line_number, ": ", what...));
    };
    if (first == "n") {
      int n = 0;
      if (!edges.empty() || declared_n) fail("'n N' must be the first line");
      if (!(fields >> n) || !(fields >> std::ws).eof() || n < 2) fail("expected 'n N' with N >= 2, got '", line, "'");
      if (static_cast<std::uint64_t>(n) > max_workers) fail("n ", n, " is too large (at most ", max_workers, " workers)");
      declared_n = n;
      continue;
    }
    int i = 0, j = 0;
    std::istringstream pair(content);
    if (!(pair >> i >> j) || !(pair >> std::ws).eof()) fail("expected two ranks 'i j', got '", line, "'");
    if (i < 0 || j < 0) fail("ranks must be non-negative, got ", i, " ", j);
    if (static_cast<std::uint64_t>(std::max(i, j)) >= max_workers)
      fail("rank ", std::max(i, j), " is too large (at most ", max_workers, " workers)");
    if (declared_n && (i >= *declared_n || j >= *declared_n))
      fail("rank out of range for n ", *declared_n, " in edge ", i, " ", j);
    if (i == j) fail("self loop ", i, " ", j, " (an edge needs two different workers)");
    const auto [it, inserted] = first_line.emplace(std::minmax(i, j), line_number);
    if (!inserted) fail("edge ", i, " ", j, " repeats the edge on line ", it->second);
    if (static_cast<double>(edges.size()) >= detail::max_edges)
      fail("more than ", detail::max_edges, " edges (the most a topology may have)");
    edges.emplace_back(i, j);
    largest = std::max({largest, i, j});
  }
  const int n = declared_n.value_or(largest + 1);
  expects(n >= 2, "edge file '", path, "' has no edges (and no 'n N' line)");
  return graph::from_edges(n, edges, "edges:" + path);
}

/// The union of RelaySum's two binary trees on n workers: `tree(0)` = binary_tree(n) and `tree(1)` =
/// binary_tree(n, reversed = true). Workers interior in one tree are mostly leaves of the other (for even n none is
/// interior in both), so running one relay per tree on interleaved coordinates (coordinate k → tree k mod 2)
/// balances the traffic. As a graph it is the union:
/// N(v) = N_tree0(v), then the neighbours of N_tree1(v) not already listed. Named "double-binary-tree:N".
class double_binary_tree : public graph {
 public:
  /// The double binary tree on n ≥ 2 workers.
  /// @throw invalid_argument if n < 2.
  explicit double_binary_tree(int n) : double_binary_tree(binary_tree(n), binary_tree(n, true)) {}

  /// Both trees, for RelaySum (`topology::spanning_trees`): coordinate k of the model travels on tree k mod 2.
  [[nodiscard]] std::vector<graph> spanning_trees() const { return {tree(0), tree(1)}; }

  /// Tree 0 (binary_tree(n)) or tree 1 (its reversed copy).
  /// @throw invalid_argument unless index is 0 or 1.
  [[nodiscard]] const graph& tree(int index) const {
    expects(index == 0 || index == 1, "double_binary_tree::tree: index must be 0 or 1, got ", index);
    return trees_[static_cast<std::size_t>(index)];
  }

 private:
  double_binary_tree(graph first, graph second)
      : graph(first.size(), union_lists(first, second), detail::concat("double-binary-tree:", first.size())),
        trees_{std::move(first), std::move(second)} {}

  static std::vector<std::vector<int>> union_lists(const graph& first, const graph& second) {
    detail::adjacency_builder b(first.size());
    for (const graph* tree : {&first, &second})
      for (int v = 0; v < tree->size(); ++v)
        for (const int w : tree->neighbors(v)) b.add(v, w);
    return b.lists;
  }

  std::array<graph, 2> trees_;
};

static_assert(topology<double_binary_tree>);

/// The one-peer exponential graph, time-varying, on n = 2^k ≥ 2 workers: at step t worker i has exactly one
/// neighbour, i XOR 2^(t mod k). This is the symmetric (matching) form of the one-peer exponential graph: every
/// step is a perfect matching, and with weights ½ (W_t = (I + P_t)/2) the product of any k consecutive step
/// matrices is exactly the averaging matrix 11ᵀ/n. Named "one-peer-exponential:N".
class one_peer_exponential {
 public:
  /// Opts in to the `topology` concept.
  using topology_concept = topology_tag;
  /// Time-varying: neighbours depend on the step.
  static constexpr bool time_varying = true;

  /// The one-peer exponential graph on n workers.
  /// @throw invalid_argument if n < 2 or n is not a power of 2.
  explicit one_peer_exponential(int n) : name_(detail::concat("one-peer-exponential:", n)), n_(n) {
    detail::require_at_least(name_, "n", n, 2);
    expects(std::has_single_bit(static_cast<unsigned>(n)), "topology ", name_, ": n must be a power of 2");
    period_ = std::countr_zero(static_cast<unsigned>(n));
    for (int phase = 0; phase < period_; ++phase)
      for (int i = 0; i < n; ++i) peers_.push_back(i ^ (1 << phase));
  }

  /// Number of workers.
  [[nodiscard]] int size() const noexcept { return n_; }

  /// Number of distinct steps, log2 n: the neighbours of step t are those of step t mod period().
  [[nodiscard]] int period() const noexcept { return period_; }

  /// The single neighbour of `rank` at step `step`.
  /// @throw invalid_argument if `rank` is out of range or `step` is negative.
  [[nodiscard]] std::span<const int> neighbors(int rank, std::int64_t step) const {
    expects(0 <= rank && rank < size(), "rank ", rank, " out of range for ", name_, " (ranks are 0..", size() - 1, ")");
    expects(step >= 0, "topology ", name_, ": step must be non-negative, got ", step);
    const auto phase = static_cast<std::size_t>(step % period_);
    return {peers_.data() + phase * static_cast<std::size_t>(size()) + static_cast<std::size_t>(rank), 1};
  }

  /// The matching used at step `step`, as a static graph named "one-peer-exponential:N@PHASE" (PHASE = step mod
  /// period()).
  /// @throw invalid_argument if `step` is negative.
  [[nodiscard]] graph graph_at(std::int64_t step) const {
    std::vector<std::vector<int>> lists;
    for (int i = 0; i < size(); ++i) {
      const std::span<const int> peer = neighbors(i, step);
      lists.emplace_back(peer.begin(), peer.end());
    }
    return graph(size(), lists, detail::concat(name_, "@", step % period_));
  }

  /// The union of all steps' matchings: the hypercube on n workers (named "hypercube:N").
  [[nodiscard]] graph union_graph() const { return hypercube(size()); }

  /// "one-peer-exponential:N".
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  std::string name_;
  int n_;
  int period_ = 0;
  std::vector<int> peers_;  // peers_[phase * n + i] = i XOR 2^phase
};

static_assert(topology<one_peer_exponential>);

}  // namespace decent::topology
