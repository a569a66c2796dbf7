// Tests of decent/topology/* and decent/detail/linalg.hpp against closed forms and the values of docs/algorithms.md.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <string>
#include <vector>

#include <decent/core/rng.hpp>
#include <decent/detail/linalg.hpp>
#include <decent/topology/analysis.hpp>
#include <decent/topology/any_topology.hpp>
#include <decent/topology/spec.hpp>
#include <decent/topology/topologies.hpp>
#include <decent/topology/topology.hpp>
#include <decent/topology/weights.hpp>

namespace topo = decent::topology;
using decent::detail::dense_matrix;
using lists = std::vector<std::vector<int>>;

namespace {

constexpr double pi = std::numbers::pi;

lists lists_of(const topo::graph& g) {
  lists result;
  for (int i = 0; i < g.size(); ++i) {
    const auto n = g.neighbors(i);
    result.emplace_back(n.begin(), n.end());
  }
  return result;
}

std::vector<double> sorted(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v;
}

void check_close(const std::vector<double>& actual, const std::vector<double>& expected, double tolerance) {
  REQUIRE(actual.size() == expected.size());
  for (std::size_t k = 0; k < actual.size(); ++k) {
    INFO("index ", k);
    CHECK(std::abs(actual[k] - expected[k]) <= tolerance);
  }
}

dense_matrix random_symmetric(int n, std::uint64_t seed) {
  const decent::random_stream rng{seed, 1, 2};
  dense_matrix a(n, n);
  std::uint64_t draw = 0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j <= i; ++j) a(i, j) = a(j, i) = rng.normal(draw++);
  return a;
}

double binomial(int n, int k) { return k == 0 ? 1.0 : binomial(n - 1, k - 1) * n / k; }

std::filesystem::path write_file(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path;
}

struct no_tag {  // a user's topology: the two members, no tag, no constants
  int size() const { return 1; }
  std::span<const int> neighbors(int, std::int64_t) const { return {}; }
};
struct static_lists {  // the static form: neighbours without a step
  int size() const { return 1; }
  std::span<const int> neighbors(int) const { return {}; }
};
struct misspelt {  // `neighbours`: not a topology
  int size() const { return 1; }
  std::span<const int> neighbours(int, std::int64_t) const { return {}; }
};
struct no_size {
  std::span<const int> neighbors(int, std::int64_t) const { return {}; }
};
struct wrong_lists {  // neighbours as something that is no span of ranks
  int size() const { return 1; }
  double neighbors(int, std::int64_t) const { return 0; }
};

}  // namespace

static_assert(topo::topology<topo::graph>);
static_assert(topo::topology<topo::double_binary_tree>);
static_assert(topo::topology<topo::one_peer_exponential>);
static_assert(topo::topology<topo::any_topology>);
static_assert(topo::topology<no_tag> && topo::topology<static_lists>);
static_assert(!topo::topology<misspelt> && !topo::topology<no_size> && !topo::topology<wrong_lists>);
static_assert(!topo::topology<int>);
static_assert(!topo::graph::time_varying && topo::one_peer_exponential::time_varying);

// ------------------------------------------------------------------------------------------------ linear algebra

TEST_CASE("symmetric_eigenvalues: trace and Frobenius norm of random symmetric matrices") {
  for (const int n : {1, 2, 3, 7, 64, 200}) {
    INFO("n = ", n);
    const dense_matrix a = random_symmetric(n, static_cast<std::uint64_t>(n));
    const std::vector<double> lambda = decent::detail::symmetric_eigenvalues(a);
    REQUIRE(lambda.size() == static_cast<std::size_t>(n));
    CHECK(std::is_sorted(lambda.begin(), lambda.end()));
    double trace = 0, frobenius2 = 0, sum = 0, sum2 = 0;
    for (int i = 0; i < n; ++i) {
      trace += a(i, i);
      for (int j = 0; j < n; ++j) frobenius2 += a(i, j) * a(i, j);
    }
    for (const double l : lambda) {
      sum += l;
      sum2 += l * l;
    }
    CHECK(sum == doctest::Approx(trace).epsilon(1e-11));
    CHECK(sum2 == doctest::Approx(frobenius2).epsilon(1e-11));
  }
}

TEST_CASE("symmetric_eigenvalues: closed forms for 1x1, 2x2, diagonal and zero matrices") {
  dense_matrix one(1, 1, 4.5);
  check_close(decent::detail::symmetric_eigenvalues(one), {4.5}, 0);
  dense_matrix two(2, 2);
  two(0, 0) = 2, two(0, 1) = two(1, 0) = 1, two(1, 1) = 2;  // eigenvalues 1, 3
  check_close(decent::detail::symmetric_eigenvalues(two), {1, 3}, 1e-14);
  dense_matrix diagonal(4, 4);
  diagonal(0, 0) = 3, diagonal(1, 1) = -1, diagonal(2, 2) = 0, diagonal(3, 3) = 3;
  check_close(decent::detail::symmetric_eigenvalues(diagonal), {-1, 0, 3, 3}, 1e-15);
  check_close(decent::detail::symmetric_eigenvalues(dense_matrix(5, 5)), {0, 0, 0, 0, 0}, 0);
  CHECK(decent::detail::symmetric_eigenvalues(dense_matrix()).empty());
  CHECK_THROWS_AS((void)decent::detail::symmetric_eigenvalues(dense_matrix(2, 3)), decent::invalid_argument);
}

TEST_CASE("symmetric_eigenvalues: ring of 1000 gossip matrix matches (1 + 2cos(2πk/n))/3") {
  const int n = 1000;
  const std::vector<double> lambda = decent::detail::symmetric_eigenvalues(topo::mixing_matrix(topo::ring(n)));
  std::vector<double> expected;
  for (int k = 0; k < n; ++k) expected.push_back((1 + 2 * std::cos(2 * pi * k / n)) / 3);
  check_close(lambda, sorted(expected), 1e-12);
}

TEST_CASE("solve, inverse and multiply") {
  dense_matrix a(3, 3);
  const double values[3][3] = {{0, 2, 1}, {1, 1, 0}, {3, 0, 1}};  // a(0,0) = 0: needs pivoting
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) a(i, j) = values[i][j];
  const std::vector<double> b{5, 3, 6};
  const std::vector<double> x = decent::detail::solve(a, b);
  check_close(decent::detail::multiply(a, x), b, 1e-14);
  check_close(x, {1.4, 1.6, 1.8}, 1e-14);

  const dense_matrix product = decent::detail::multiply(a, decent::detail::inverse(a));
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) CHECK(product(i, j) == doctest::Approx(i == j ? 1.0 : 0.0));

  dense_matrix singular(2, 2);
  singular(0, 0) = 1, singular(0, 1) = 2, singular(1, 0) = 2, singular(1, 1) = 4;
  CHECK_THROWS_WITH_AS((void)decent::detail::solve(singular, {1, 1}), doctest::Contains("singular"),
                       decent::invalid_argument);
  CHECK_THROWS_WITH_AS((void)decent::detail::solve(a, {1, 1}), doctest::Contains("right-hand side of 3"),
                       decent::invalid_argument);
  CHECK_THROWS_AS((void)decent::detail::multiply(a, dense_matrix(2, 2)), decent::invalid_argument);
  CHECK_THROWS_AS(dense_matrix(-1, 2), decent::invalid_argument);
}

TEST_CASE("orthonormalize_columns: modified Gram-Schmidt") {
  const decent::random_stream rng{7, 0, 0};
  dense_matrix q(8, 3);
  std::uint64_t draw = 0;
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 3; ++j) q(i, j) = rng.normal(draw++);
  decent::detail::orthonormalize_columns(q);
  for (int j = 0; j < 3; ++j)
    for (int k = 0; k < 3; ++k) {
      double dot = 0;
      for (int i = 0; i < 8; ++i) dot += q(i, j) * q(i, k);
      CHECK(dot == doctest::Approx(j == k ? 1.0 : 0.0).epsilon(1e-12));
    }
  dense_matrix with_zero(3, 2);  // a zero column stays zero (no NaN), with or without epsilon
  with_zero(0, 1) = 2;
  decent::detail::orthonormalize_columns(with_zero);
  CHECK(with_zero(0, 0) == 0.0);
  CHECK(with_zero(0, 1) == 1.0);
  decent::detail::orthonormalize_columns(with_zero, 1e-8);
  CHECK(with_zero(0, 1) == doctest::Approx(1.0 / (1.0 + 1e-8)));
}

// ------------------------------------------------------------------------------------------------ graph

TEST_CASE("graph: construction, accessors and edge list") {
  const topo::graph g = topo::graph::from_edges(4, {{0, 1}, {1, 2}, {2, 3}, {3, 0}, {0, 2}}, "diamond");
  CHECK(lists_of(g) == lists{{1, 3, 2}, {0, 2}, {1, 3, 0}, {2, 0}});
  CHECK(g.size() == 4);
  CHECK(g.name() == "diamond");
  CHECK(g.num_edges() == 5);
  CHECK(g.degree(0) == 3);
  CHECK(g.max_degree() == 3);
  CHECK(g.edges() == std::vector<std::pair<int, int>>{{0, 1}, {0, 3}, {0, 2}, {1, 2}, {2, 3}});
  CHECK(g.neighbors(2, 12345).size() == 3);  // static: the step is ignored
}

TEST_CASE("graph: every invalid adjacency is rejected with a precise message") {
  const auto build = [](const lists& adjacency) { return topo::graph(static_cast<int>(adjacency.size()), adjacency, "g"); };
  CHECK_THROWS_WITH_AS(build({{1}, {0, 2}, {}}),
                       "graph g: edge 1->2 has no reverse edge 2->1: the graph must be undirected", decent::topology_error);
  CHECK_THROWS_WITH_AS(build({{0, 1}, {0}}), doctest::Contains("vertex 0 lists itself"), decent::topology_error);
  CHECK_THROWS_WITH_AS(build({{1, 1}, {0}}), doctest::Contains("lists neighbour 1 twice"), decent::topology_error);
  CHECK_THROWS_WITH_AS(build({{5}, {0}}), doctest::Contains("neighbour 5 out of range [0, 2)"), decent::topology_error);
  CHECK_THROWS_WITH_AS((void)topo::graph(3, lists{{1}, {0}}, "g"), doctest::Contains("2 adjacency lists"),
                       decent::invalid_argument);
  CHECK_THROWS_AS((void)topo::graph(0, lists{}, "g"), decent::invalid_argument);
  CHECK_THROWS_WITH_AS((void)topo::graph::from_edges(3, {{0, 3}}, "g"), doctest::Contains("edge 0-3 has a vertex out of range"),
                       decent::topology_error);
  CHECK_THROWS_AS((void)topo::graph::from_edges(3, {{0, 1}, {1, 0}}, "g"), decent::topology_error);  // duplicate
  CHECK_THROWS_AS((void)topo::graph::from_edges(3, {{1, 1}}, "g"), decent::topology_error);          // self loop
}

TEST_CASE("graph: rank out of range names the topology") {
  const topo::graph g = topo::ring(8);
  CHECK_THROWS_WITH_AS((void)g.neighbors(9), doctest::Contains("rank 9 out of range for ring:8"), decent::invalid_argument);
  CHECK_THROWS_AS((void)g.neighbors(-1, 0), decent::invalid_argument);
  CHECK_THROWS_AS((void)g.degree(8), decent::invalid_argument);
  CHECK_THROWS_WITH_AS((void)topo::one_peer_exponential(8).neighbors(8, 0),
                       doctest::Contains("rank 8 out of range for one-peer-exponential:8"), decent::invalid_argument);
}

// ------------------------------------------------------------------------------------------------ families

TEST_CASE("ring, chain, star and complete") {
  CHECK(lists_of(topo::ring(8)) ==
        lists{{7, 1}, {2, 0}, {1, 3}, {4, 2}, {3, 5}, {6, 4}, {5, 7}, {0, 6}});
  CHECK(topo::ring(8).name() == "ring:8");
  CHECK(lists_of(topo::ring(2)) == lists{{1}, {0}});
  CHECK(lists_of(topo::ring(3)) == lists{{2, 1}, {2, 0}, {1, 0}});
  CHECK(lists_of(topo::chain(4)) == lists{{1}, {0, 2}, {1, 3}, {2}});
  CHECK(lists_of(topo::star(4)) == lists{{1, 2, 3}, {0}, {0}, {0}});
  CHECK(lists_of(topo::complete(4)) == lists{{1, 2, 3}, {0, 2, 3}, {0, 1, 3}, {0, 1, 2}});
  CHECK(topo::complete(10).num_edges() == 45);
  CHECK_THROWS_WITH_AS((void)topo::ring(1), "topology ring:1: n must be at least 2, got 1", decent::invalid_argument);
  CHECK_THROWS_AS((void)topo::chain(1), decent::invalid_argument);
  CHECK_THROWS_AS((void)topo::star(0), decent::invalid_argument);
  CHECK_THROWS_AS((void)topo::complete(-4), decent::invalid_argument);
}

TEST_CASE("torus, hypercube and exponential") {
  const topo::graph t = topo::torus(3, 4);
  CHECK(t.name() == "torus:3x4");
  CHECK(t.size() == 12);
  CHECK(t.num_edges() == 24);
  CHECK(lists_of(t)[5] == std::vector<int>{1, 9, 4, 6});  // up, down, left, right of (1, 1)
  CHECK(lists_of(topo::torus(2, 2)) == lists{{2, 1}, {3, 0}, {0, 3}, {1, 2}});  // deduplicated: a 4-cycle
  CHECK(topo::torus(2, 3).num_edges() == 9);
  CHECK(lists_of(topo::torus(1, 3)) == lists_of(topo::graph(3, lists{{2, 1}, {0, 2}, {1, 0}}, "x")));
  CHECK_THROWS_AS((void)topo::torus(0, 4), decent::invalid_argument);
  CHECK_THROWS_AS((void)topo::torus(1, 1), decent::invalid_argument);

  const topo::graph h = topo::hypercube(8);
  CHECK(lists_of(h)[5] == std::vector<int>{4, 7, 1});
  CHECK(h.num_edges() == 12);
  CHECK_THROWS_WITH_AS((void)topo::hypercube(6), "topology hypercube:6: n must be a power of 2", decent::invalid_argument);

  CHECK(lists_of(topo::exponential(8))[0] == std::vector<int>{1, 7, 2, 6, 4});
  CHECK(topo::exponential(8).num_edges() == 20);
  CHECK(lists_of(topo::exponential(6))[0] == std::vector<int>{1, 5, 2, 4});
  CHECK(topo::exponential(2).num_edges() == 1);
}

TEST_CASE("binary_tree and double_binary_tree: docs/algorithms.md §2.3") {
  CHECK(lists_of(topo::binary_tree(8)) == lists{{1}, {0, 2, 3}, {1, 4, 5}, {1, 6, 7}, {2}, {2}, {3}, {3}});
  CHECK(lists_of(topo::binary_tree(8, true)) == lists{{4}, {4}, {5}, {5}, {6, 1, 0}, {6, 3, 2}, {7, 5, 4}, {6}});
  for (const int n : {2, 3, 5, 8, 13, 64}) {
    INFO("n = ", n);
    CHECK(topo::is_tree(topo::binary_tree(n)));
    CHECK(topo::is_tree(topo::binary_tree(n, true)));
    CHECK(topo::binary_tree(n).max_degree() <= 3);
  }

  const topo::double_binary_tree d(8);
  CHECK(d.name() == "double-binary-tree:8");
  CHECK(lists_of(d) == lists{{1, 4}, {0, 2, 3, 4}, {1, 4, 5}, {1, 6, 7, 5}, {2, 6, 1, 0}, {2, 6, 3}, {3, 7, 5, 4}, {3, 6}});
  CHECK(d.num_edges() == 13);  // 7 + 7, edge 2-5 is in both trees
  CHECK(lists_of(d.tree(0)) == lists_of(topo::binary_tree(8)));
  CHECK(lists_of(d.tree(1)) == lists_of(topo::binary_tree(8, true)));
  CHECK_THROWS_AS((void)d.tree(2), decent::invalid_argument);
  for (const int n : {4, 8, 10, 16, 32}) {  // for even n no worker is interior in both trees
    const topo::double_binary_tree dn(n);
    for (int v = 0; v < n; ++v) CHECK((dn.tree(0).degree(v) == 1 || dn.tree(1).degree(v) == 1));
  }
}

TEST_CASE("one_peer_exponential: matchings whose log2(n) consecutive products average exactly") {
  const topo::one_peer_exponential t(8);
  CHECK(t.size() == 8);
  CHECK(t.period() == 3);
  CHECK(t.name() == "one-peer-exponential:8");
  CHECK(t.neighbors(5, 0)[0] == 4);
  CHECK(t.neighbors(5, 1)[0] == 7);
  CHECK(t.neighbors(5, 2)[0] == 1);
  CHECK(t.neighbors(5, 3)[0] == 4);
  CHECK(t.graph_at(4).name() == "one-peer-exponential:8@1");
  CHECK(lists_of(t.union_graph()) == lists_of(topo::hypercube(8)));
  CHECK_THROWS_AS((void)t.neighbors(0, -1), decent::invalid_argument);
  CHECK_THROWS_AS(topo::one_peer_exponential(12), decent::invalid_argument);

  for (const int n : {2, 8, 32})
    for (std::int64_t start = 0; start < 3; ++start) {
      const topo::one_peer_exponential p(n);
      dense_matrix product = dense_matrix::identity(n);
      for (std::int64_t step = start; step < start + p.period(); ++step) {
        const dense_matrix w = topo::mixing_matrix(p.graph_at(step));  // uniform weights: ½ with one neighbour
        CHECK(w(0, p.neighbors(0, step)[0]) == 0.5);
        product = decent::detail::multiply(w, product);
      }
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) CHECK(product(i, j) == 1.0 / n);  // exact: powers of two
    }
}

TEST_CASE("random_regular: d-regular, connected, deterministic per seed") {
  for (const auto& nd : std::vector<std::pair<int, int>>{{16, 3}, {20, 4}, {10, 7}, {9, 8}, {50, 2}, {2, 1}, {64, 5}}) {
    const int n = nd.first, d = nd.second;  // not a structured binding: INFO captures them (Clang 14)
    INFO("n = ", n, ", d = ", d);
    const topo::graph g = topo::random_regular(n, d, 42);
    CHECK(g.name() == decent::detail::concat("random-regular:", n, ":", d, ":42"));
    for (int v = 0; v < n; ++v) CHECK(g.degree(v) == d);
    CHECK(topo::is_connected(g));
    CHECK(lists_of(topo::random_regular(n, d, 42)) == lists_of(g));
  }
  CHECK(lists_of(topo::random_regular(16, 3, 1)) != lists_of(topo::random_regular(16, 3, 2)));
  CHECK(lists_of(topo::random_regular(16, 3)) == lists_of(topo::random_regular(16, 3, 0)));
  CHECK_THROWS_WITH_AS((void)topo::random_regular(7, 3, 0), doctest::Contains("N*D must be even"), decent::invalid_argument);
  CHECK_THROWS_AS((void)topo::random_regular(4, 4, 0), decent::invalid_argument);
  CHECK_THROWS_AS((void)topo::random_regular(4, 0, 0), decent::invalid_argument);
  CHECK_THROWS_WITH_AS((void)topo::random_regular(6, 1, 0), doctest::Contains("disconnected"), decent::invalid_argument);
}

TEST_CASE("bfs_spanning_tree: a tree with the distances of the graph") {
  for (const topo::graph& g : {topo::torus(4, 5), topo::ring(9), topo::random_regular(30, 3, 5), topo::complete(6)}) {
    for (const int root : {0, 3}) {
      INFO(g.name(), " root ", root);
      const topo::graph t = topo::bfs_spanning_tree(g, root);
      CHECK(t.name() == decent::detail::concat("bfs:", root, ":", g.name()));
      CHECK(topo::is_tree(t));
      CHECK(t.num_edges() == g.size() - 1);
      CHECK(topo::breadth_first_search(t, root).distance == topo::breadth_first_search(g, root).distance);
      for (const auto& [i, j] : t.edges()) {  // tree edges are graph edges
        const auto n = g.neighbors(i);
        CHECK(std::find(n.begin(), n.end(), j) != n.end());
      }
    }
  }
  // ring:6 lists: 0 [5 1], 1 [2 0], 4 [3 5], 5 [0 4]: BFS reaches 5, 1, then 4 (from 5), 2 (from 1), 3 (from 4).
  CHECK(lists_of(topo::bfs_spanning_tree(topo::ring(6), 0)) == lists{{5, 1}, {0, 2}, {1}, {4}, {5, 3}, {0, 4}});
  const topo::graph split = topo::graph::from_edges(4, {{0, 1}, {2, 3}}, "split");
  CHECK_THROWS_AS((void)topo::bfs_spanning_tree(split), decent::topology_error);
  CHECK_THROWS_AS((void)topo::bfs_spanning_tree(topo::ring(4), 4), decent::invalid_argument);
}

TEST_CASE("from_edge_file: format and errors with file and line") {
  const auto good = write_file("decent_topology_good.txt", "# a triangle plus a pendant\nn 5\n0 1\n1 2 # trailing comment\n\n2 0\n2 3\n3 4\n");
  const topo::graph g = topo::from_edge_file(good.string());
  CHECK(g.name() == "edges:" + good.string());
  CHECK(lists_of(g) == lists{{1, 2}, {0, 2}, {1, 0, 3}, {2, 4}, {3}});
  const auto implicit_n = write_file("decent_topology_implicit.txt", "0 1\n1 2\n");
  CHECK(topo::from_edge_file(implicit_n.string()).size() == 3);

  const auto check_error = [](const std::string& name, const std::string& text, const std::string& expected) {
    const auto path = write_file(name, text);
    INFO(text);
    CHECK_THROWS_WITH_AS((void)topo::from_edge_file(path.string()), doctest::Contains((path.string() + expected).c_str()),
                         decent::invalid_argument);
  };
  check_error("decent_topology_e1.txt", "0 1\n1 x\n", ":2: expected two ranks 'i j', got '1 x'");
  check_error("decent_topology_e2.txt", "0 1\n1 2 3\n", ":2: expected two ranks");
  check_error("decent_topology_e3.txt", "0 1\n2 2\n", ":2: self loop 2 2");
  check_error("decent_topology_e4.txt", "0 1\n1 2\n\n1 0\n", ":4: edge 1 0 repeats the edge on line 1");
  check_error("decent_topology_e5.txt", "n 3\n0 1\n1 3\n", ":3: rank out of range for n 3");
  check_error("decent_topology_e6.txt", "0 -1\n", ":1: ranks must be non-negative");
  check_error("decent_topology_e7.txt", "0 1\nn 3\n", ":2: 'n N' must be the first line");
  CHECK_THROWS_WITH_AS((void)topo::from_edge_file("/nonexistent/edges.txt"), doctest::Contains("cannot be opened"),
                       decent::invalid_argument);
}

// ------------------------------------------------------------------------------------------------ weights, spectra

TEST_CASE("gossip weights and mixing matrices") {
  CHECK(topo::gossip_weight(topo::weight_scheme::uniform, 2, 3) == 0.25);
  CHECK(topo::gossip_weight(topo::weight_scheme::metropolis_hastings, 2, 3) == doctest::Approx(1.0 / 3));
  CHECK_THROWS_AS((void)topo::gossip_weight(topo::weight_scheme::uniform, 0, 3), decent::invalid_argument);

  const dense_matrix w = topo::mixing_matrix(topo::ring(8));  // (I + L + R)/3
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) {
      const int hops = std::min((i - j + 8) % 8, (j - i + 8) % 8);
      CHECK(w(i, j) == doctest::Approx(hops <= 1 ? 1.0 / 3 : 0.0));
    }
  CHECK(topo::is_doubly_stochastic(w));
  CHECK(topo::is_symmetric(w));
  const dense_matrix star_w = topo::mixing_matrix(topo::star(5));  // centre degree 4: every weight 1/5
  CHECK(star_w(0, 0) == doctest::Approx(0.2));
  CHECK(star_w(1, 1) == doctest::Approx(0.8));
  CHECK(topo::is_doubly_stochastic(topo::mixing_matrix(topo::star(5), topo::weight_scheme::metropolis_hastings)));

  dense_matrix bad = w;
  bad(0, 1) += 0.1;
  CHECK_FALSE(topo::is_symmetric(bad));
  CHECK_FALSE(topo::is_doubly_stochastic(bad));
  CHECK_FALSE(topo::is_doubly_stochastic(dense_matrix(2, 3)));
  dense_matrix negative(2, 2);
  negative(0, 0) = negative(1, 1) = 1.5, negative(0, 1) = negative(1, 0) = -0.5;
  CHECK_FALSE(topo::is_doubly_stochastic(negative));
  CHECK_THROWS_AS((void)topo::spectral_gap(bad), decent::invalid_argument);
}

TEST_CASE("ring gossip spectrum: eigenvalues (1 + 2cos(2πk/n))/3 and the spectral gap") {
  for (const int n : {8, 7}) {
    INFO("n = ", n);
    const dense_matrix w = topo::mixing_matrix(topo::ring(n));
    std::vector<double> expected;
    for (int k = 0; k < n; ++k) expected.push_back((1 + 2 * std::cos(2 * pi * k / n)) / 3);
    check_close(decent::detail::symmetric_eigenvalues(w), sorted(expected), 1e-14);
    const double second = (1 + 2 * std::cos(2 * pi / n)) / 3;
    const double smallest = (1 + 2 * std::cos(2 * pi * (n / 2) / n)) / 3;
    CHECK(topo::spectral_gap(w) == doctest::Approx(1 - std::max(second, std::abs(smallest))).epsilon(1e-12));
  }
  // Metropolis-Hastings has zero self-weight on regular graphs: eigenvalue -1 on even rings, gap 0.
  CHECK(std::abs(topo::spectral_gap(topo::mixing_matrix(topo::ring(8), topo::weight_scheme::metropolis_hastings))) < 1e-12);
  CHECK(topo::spectral_gap(topo::mixing_matrix(topo::ring(7), topo::weight_scheme::metropolis_hastings)) > 0.01);
  CHECK(topo::spectral_gap(dense_matrix(1, 1, 1.0)) == 1.0);
}

TEST_CASE("complete graph and hypercube spectra") {
  const int n = 6;
  check_close(decent::detail::symmetric_eigenvalues(topo::mixing_matrix(topo::complete(n))), {0, 0, 0, 0, 0, 1}, 1e-14);
  CHECK(topo::spectral_gap(topo::mixing_matrix(topo::complete(n))) == doctest::Approx(1.0));
  check_close(decent::detail::symmetric_eigenvalues(topo::laplacian(topo::complete(n))), {0, 6, 6, 6, 6, 6}, 1e-13);
  CHECK(topo::algebraic_connectivity(topo::complete(n)) == doctest::Approx(6.0));

  for (const int d : {1, 3, 5}) {  // Laplacian of the d-cube: eigenvalue 2k with multiplicity C(d, k)
    INFO("d = ", d);
    std::vector<double> expected;
    for (int k = 0; k <= d; ++k) expected.insert(expected.end(), static_cast<std::size_t>(binomial(d, k)), 2.0 * k);
    check_close(decent::detail::symmetric_eigenvalues(topo::laplacian(topo::hypercube(1 << d))), expected, 1e-12);
  }
}

TEST_CASE("algebraic connectivity of chains and rings") {
  for (const int n : {2, 5, 16, 33}) {
    INFO("n = ", n);
    CHECK(topo::algebraic_connectivity(topo::chain(n)) == doctest::Approx(2 - 2 * std::cos(pi / n)).epsilon(1e-12));
    if (n >= 3)
      CHECK(topo::algebraic_connectivity(topo::ring(n)) == doctest::Approx(2 - 2 * std::cos(2 * pi / n)).epsilon(1e-12));
  }
  const topo::graph split = topo::graph::from_edges(4, {{0, 1}, {2, 3}}, "split");
  CHECK(std::abs(topo::algebraic_connectivity(split)) < 1e-14);
}

TEST_CASE("effective resistance: k(n-k)/n on a ring, path length on a tree, conductance scaling") {
  const int n = 9;
  const topo::graph r = topo::ring(n);
  for (int k = 0; k < n; ++k)
    CHECK(topo::effective_resistance(r, 2, (2 + k) % n) == doctest::Approx(k * (n - k) / double(n)).epsilon(1e-12));
  const topo::graph tree = topo::binary_tree(16);
  for (int i = 0; i < 16; i += 3)
    for (int j = 0; j < 16; j += 2)
      CHECK(topo::effective_resistance(tree, i, j) ==
            doctest::Approx(topo::breadth_first_search(tree, i).distance[static_cast<std::size_t>(j)]).epsilon(1e-12));
  // Doubling every conductance halves every resistance.
  const dense_matrix doubled = topo::weighted_laplacian(r, [](int, int) { return 2.0; });
  CHECK(topo::effective_resistance(doubled, 0, 3) == doctest::Approx(0.5 * 3 * 6 / 9.0));
  CHECK_THROWS_AS((void)topo::effective_resistance(r, 0, 9), decent::invalid_argument);
  const topo::graph split = topo::graph::from_edges(4, {{0, 1}, {2, 3}}, "split");
  CHECK_THROWS_AS((void)topo::effective_resistance(split, 0, 1), decent::topology_error);
  CHECK_THROWS_AS((void)topo::effective_resistance(topo::laplacian(split), 0, 1), decent::invalid_argument);
}

TEST_CASE("laplacian_pseudoinverse: L·L⁺·L = L") {
  const dense_matrix l = topo::laplacian(topo::random_regular(12, 3, 9));
  const dense_matrix llpl = decent::detail::multiply(decent::detail::multiply(l, topo::laplacian_pseudoinverse(l)), l);
  for (int i = 0; i < 12; ++i)
    for (int j = 0; j < 12; ++j) CHECK(llpl(i, j) == doctest::Approx(l(i, j)).epsilon(1e-12));
}

TEST_CASE("a2cid2_constants: docs/algorithms.md §1.3 table, scaling in r") {
  const topo::acid_constants c8 = topo::a2cid2_constants(topo::ring(8), 1.0);
  CHECK(c8.chi1 == doctest::Approx(3.41421).epsilon(1e-5));
  CHECK(c8.chi2 == doctest::Approx(0.875).epsilon(1e-5));
  CHECK(c8.eta == doctest::Approx(0.289281).epsilon(1e-5));
  CHECK(c8.alpha_tilde == doctest::Approx(0.987669).epsilon(1e-5));
  const topo::acid_constants c4 = topo::a2cid2_constants(topo::ring(4), 1.0);
  CHECK(c4.chi1 == doctest::Approx(1.0).epsilon(1e-5));
  CHECK(c4.chi2 == doctest::Approx(0.75).epsilon(1e-5));
  CHECK(c4.eta == doctest::Approx(0.57735).epsilon(1e-5));
  CHECK(c4.alpha_tilde == doctest::Approx(0.57735).epsilon(1e-5));
  // Cycle closed forms: χ₁ = 1/(r(1 − cos(2π/n))), χ₂ = (n − 1)/(n r).
  const topo::acid_constants c16 = topo::a2cid2_constants(topo::ring(16), 2.0);
  CHECK(c16.chi1 == doctest::Approx(1 / (2 * (1 - std::cos(2 * pi / 16)))).epsilon(1e-12));
  CHECK(c16.chi2 == doctest::Approx(15.0 / 32).epsilon(1e-12));

  for (const topo::graph& g : {topo::ring(8), topo::star(6), topo::random_regular(12, 3, 1), topo::chain(5)}) {
    INFO(g.name());
    const topo::acid_constants one = topo::a2cid2_constants(g, 1.0), three = topo::a2cid2_constants(g, 3.0);
    CHECK(three.eta == doctest::Approx(3 * one.eta).epsilon(1e-12));  // η ∝ r
    CHECK(three.alpha_tilde == doctest::Approx(one.alpha_tilde).epsilon(1e-12));  // α̃ independent of r
    CHECK(one.chi2 <= one.chi1 * (1 + 1e-12));
  }
  CHECK_THROWS_AS((void)topo::a2cid2_constants(topo::ring(8), 0.0), decent::invalid_argument);
  CHECK_THROWS_AS((void)topo::a2cid2_constants(topo::ring(8), -1.0), decent::invalid_argument);
  const topo::graph split = topo::graph::from_edges(4, {{0, 1}, {2, 3}}, "split");
  CHECK_THROWS_AS((void)topo::a2cid2_constants(split, 1.0), decent::topology_error);
}

// ------------------------------------------------------------------------------------------------ validation

TEST_CASE("diameters") {
  for (const int n : {4, 7, 8, 12}) {
    CHECK(topo::diameter(topo::ring(n)) == n / 2);
    CHECK(topo::diameter(topo::chain(n)) == n - 1);
  }
  const int tau_max[] = {2, 4, 6, 8, 10};
  for (int k = 0; k < 5; ++k) CHECK(topo::diameter(topo::binary_tree(4 << k)) == tau_max[k]);
  for (const int n : {2, 8, 64}) CHECK(topo::diameter(topo::hypercube(n)) == std::countr_zero(static_cast<unsigned>(n)));
  CHECK(topo::diameter(topo::complete(5)) == 1);
  CHECK(topo::diameter(topo::star(5)) == 2);
  CHECK(topo::diameter(topo::torus(4, 6)) == 5);
}

TEST_CASE("connectivity and tree checks name the fix") {
  const topo::graph split = topo::graph::from_edges(4, {{0, 1}, {2, 3}}, "split");
  CHECK_FALSE(topo::is_connected(split));
  CHECK_FALSE(topo::is_tree(split));
  CHECK(topo::is_connected(topo::ring(5)));
  CHECK_FALSE(topo::is_tree(topo::ring(5)));
  CHECK(topo::is_tree(topo::chain(5)));
  CHECK(topo::is_tree(topo::star(5)));
  CHECK_THROWS_WITH_AS(topo::require_connected(split),
                       doctest::Contains("topology split is not connected: worker 2 cannot be reached from worker 0"),
                       decent::topology_error);
  CHECK_THROWS_WITH_AS((void)topo::diameter(split), doctest::Contains("not connected"), decent::topology_error);
  CHECK_NOTHROW(topo::require_connected(topo::ring(5)));
  CHECK_THROWS_WITH_AS(topo::require_tree(topo::ring(8)),
                       doctest::Contains("relaysgd needs a tree: use binary-tree:N, double-binary-tree:N, or "
                                         "bfs:0:<your spec> (here bfs:0:ring:8; in code: "
                                         "topology::bfs_spanning_tree(graph, 0))"),
                       decent::topology_error);
  CHECK_THROWS_WITH_AS(topo::require_tree(topo::ring(8)), doctest::Contains("it has 8 edges, a tree on 8 workers has 7"),
                       decent::topology_error);
  CHECK_THROWS_WITH_AS(topo::require_tree(split), doctest::Contains("it is not connected"), decent::topology_error);
  CHECK_NOTHROW(topo::require_tree(topo::binary_tree(9)));
}

// ------------------------------------------------------------------------------------------------ specs

TEST_CASE("parse: every accepted form") {
  struct expectation {
    const char* spec;
    int size;
    int edges;
    const char* name;
  };
  for (const expectation& e : std::vector<expectation>{
           {"ring:8", 8, 8, "ring:8"},
           {"chain:5", 5, 4, "chain:5"},
           {"star:6", 6, 5, "star:6"},
           {"complete:5", 5, 10, "complete:5"},
           {"torus:3x4", 12, 24, "torus:3x4"},
           {"hypercube:16", 16, 32, "hypercube:16"},
           {"exponential:8", 8, 20, "exponential:8"},
           {"binary-tree:8", 8, 7, "binary-tree:8"},
           {"double-binary-tree:8", 8, 13, "double-binary-tree:8"},
           {"random-regular:10:3", 10, 15, "random-regular:10:3:0"},
           {"random-regular:10:4:77", 10, 20, "random-regular:10:4:77"},
           {"bfs:2:ring:8", 8, 7, "bfs:2:ring:8"},
           {"bfs:0:bfs:1:torus:3x3", 9, 8, "bfs:0:bfs:1:torus:3x3"},
       }) {
    INFO(e.spec);
    const topo::any_topology t = topo::parse(e.spec);
    CHECK(t.size() == e.size);
    CHECK(t.name() == e.name);
    CHECK_FALSE(t.is_time_varying());
    CHECK(t.graph_at(0).num_edges() == e.edges);
    CHECK(t.union_graph().num_edges() == e.edges);
  }
  CHECK(lists_of(topo::parse("random-regular:10:4:77").graph_at(0)) == lists_of(topo::random_regular(10, 4, 77)));
  CHECK(topo::parse("double-binary-tree:8").get_if<topo::double_binary_tree>() != nullptr);
  CHECK(topo::parse("ring:8").get_if<topo::double_binary_tree>() == nullptr);
  CHECK(topo::parse("ring:8").neighbors(3, 7)[0] == 4);

  const topo::any_topology one_peer = topo::parse("one-peer-exponential:16");
  CHECK(one_peer.is_time_varying());
  CHECK(one_peer.size() == 16);
  CHECK(one_peer.neighbors(3, 6)[0] == (3 ^ 4));
  CHECK(one_peer.graph_at(6).num_edges() == 8);
  CHECK(one_peer.union_graph().name() == "hypercube:16");
  CHECK(one_peer.get_if<topo::one_peer_exponential>()->period() == 4);

  const auto file = write_file("decent_topology_spec.txt", "0 1\n1 2\n2 0\n");
  const topo::any_topology from_file = topo::parse("edges:" + file.string());
  CHECK(from_file.size() == 3);
  CHECK(from_file.name() == "edges:" + file.string());
  CHECK(topo::parse("bfs:0:edges:" + file.string()).graph_at(0).num_edges() == 2);
}

TEST_CASE("parse: malformed specs give one clear line naming the spec") {
  const auto check_error = [](const std::string& spec, const std::string& expected) {
    INFO(spec);
    CHECK_THROWS_WITH_AS((void)topo::parse(spec), doctest::Contains(expected.c_str()), decent::invalid_argument);
    try {
      (void)topo::parse(spec);
    } catch (const decent::invalid_argument& e) {
      CHECK(std::string(e.what()).find('\n') == std::string::npos);
    }
  };
  check_error("ringg:8", "unknown topology 'ringg:8'; accepted forms: ring:N | chain:N | star:N | complete:N | torus:RxC | "
                         "hypercube:N | exponential:N | one-peer-exponential:N | binary-tree:N | double-binary-tree:N | "
                         "random-regular:N:D[:SEED] | edges:FILE | bfs:ROOT:SPEC");
  check_error("", "unknown topology ''");
  check_error("ring", "topology spec 'ring': a field is missing (form: ring:N)");
  check_error("ring:", "topology spec 'ring:': a field is missing (form: ring:N)");
  check_error("ring:8:3", "topology spec 'ring:8:3': too many fields (form: ring:N)");
  check_error("ring:8:", "too many fields");
  check_error("ring:x", "topology spec 'ring:x': N must be a non-negative integer, got 'x' (form: ring:N)");
  check_error("ring:-3", "N must be a non-negative integer, got '-3'");
  check_error("ring:8.5", "N must be a non-negative integer, got '8.5'");
  check_error("ring:99999999999", "N is too large");
  check_error("ring:1", "topology ring:1: n must be at least 2, got 1");
  check_error("complete:0", "topology complete:0: n must be at least 2");
  check_error("binary-tree:1", "n must be at least 2");
  check_error("double-binary-tree:1", "n must be at least 2");
  check_error("hypercube:12", "topology hypercube:12: n must be a power of 2");
  check_error("one-peer-exponential:12", "n must be a power of 2");
  check_error("torus:4", "topology spec 'torus:4': expected RxC, got '4' (form: torus:RxC)");
  check_error("torus:4x", "C must be a non-negative integer, got ''");
  check_error("torus:0x4", "topology torus:0x4: R must be at least 1");
  check_error("random-regular:8", "a field is missing (form: random-regular:N:D[:SEED])");
  check_error("random-regular:8:3:1:2", "too many fields");
  check_error("random-regular:7:3", "N*D must be even");
  check_error("random-regular:8:8", "D must be less than N");
  check_error("random-regular:8:3:x", "SEED must be a non-negative integer");
  check_error("edges:", "a field is missing (form: edges:FILE)");
  check_error("edges:/nonexistent/file.txt", "edge file '/nonexistent/file.txt' cannot be opened");
  check_error("bfs:0", "a field is missing (form: bfs:ROOT:SPEC)");
  check_error("bfs:0:", "a field is missing");
  check_error("bfs:x:ring:8", "ROOT must be a non-negative integer, got 'x'");
  check_error("bfs:9:ring:8", "rank 9 out of range for ring:8");
  check_error("bfs:0:ring:x", "topology spec 'ring:x'");
  check_error("bfs:0:torus:", "a field is missing (form: torus:RxC)");
  CHECK_THROWS_AS((void)topo::parse("bfs:0:edges:" + write_file("decent_topology_split.txt", "0 1\n2 3\n").string()),
                  decent::topology_error);
}

TEST_CASE("edge files: worker counts capped like the specs, lines bounded, no overflow on huge ranks") {
  const auto dir = std::filesystem::temp_directory_path();
  const auto write = [&](const std::string& name, const std::string& text) {
    const auto path = dir / name;
    std::ofstream(path) << text;
    return path.string();
  };
  CHECK_THROWS_WITH_AS((void)topo::from_edge_file(write("decent_huge_rank.txt", "0 2147483647\n")),
                       doctest::Contains("rank 2147483647 is too large (at most 1048576 workers)"), decent::invalid_argument);
  CHECK_THROWS_WITH_AS((void)topo::from_edge_file(write("decent_huge_n.txt", "n 2110485767\n0 1\n")),
                       doctest::Contains("n 2110485767 is too large"), decent::invalid_argument);
  CHECK_THROWS_WITH_AS((void)topo::from_edge_file(write("decent_long_line.txt", std::string(10000, '1'))),
                       doctest::Contains("a line longer than 4096 characters"), decent::invalid_argument);
  if (std::filesystem::exists("/dev/zero"))
    CHECK_THROWS_WITH_AS((void)topo::from_edge_file("/dev/zero"), doctest::Contains("a line longer than 4096 characters"),
                         decent::invalid_argument);
  CHECK(topo::from_edge_file(write("decent_no_newline.txt", "0 1\n1 2")).num_edges() == 2);  // last line unterminated
}

TEST_CASE("dense analyses are refused above max_dense_workers, the diameter above its cost, with what and why") {
  using namespace decent::topology;
  const graph big = ring(max_dense_workers + 1);
  CHECK_THROWS_WITH_AS((void)laplacian(big), doctest::Contains("at most 2048 workers"), decent::invalid_argument);
  CHECK_THROWS_WITH_AS((void)mixing_matrix(big), doctest::Contains("ring:2049"), decent::invalid_argument);
  CHECK_THROWS_WITH_AS((void)a2cid2_constants(big), doctest::Contains("A²CiD²'s constants"), decent::invalid_argument);
  CHECK_THROWS_WITH_AS((void)algebraic_connectivity(big), doctest::Contains("dense 2049x2049"),
                       decent::invalid_argument);
  CHECK(laplacian(ring(64)).rows() == 64);
  // ring:n costs 3n²: above 2^32 from n = 37838 on (refused at once), computed below.
  CHECK_THROWS_WITH_AS((void)diameter(ring(40000)), doctest::Contains("it is computed up to"),
                       decent::invalid_argument);
  CHECK(diameter(ring(1001)) == 500);
}

TEST_CASE("a2cid2_constants: chi1 and chi2 scale exactly as 1/r, eta as r, alpha_tilde not at all, at any rate") {
  using namespace decent::topology;
  const acid_constants one = a2cid2_constants(ring(8), 1.0);
  for (const double r : {1e-300, 1e-9, 3.0, 1e9, 1e300}) {
    CAPTURE(r);
    const acid_constants c = a2cid2_constants(ring(8), r);
    CHECK(c.chi1 == doctest::Approx(one.chi1 / r).epsilon(1e-12));
    CHECK(c.chi2 == doctest::Approx(one.chi2 / r).epsilon(1e-12));
    CHECK(c.eta == doctest::Approx(one.eta * r).epsilon(1e-12));
    CHECK(c.alpha_tilde == doctest::Approx(one.alpha_tilde).epsilon(1e-12));
  }
  CHECK_THROWS_AS((void)a2cid2_constants(ring(8), 1e-320), decent::invalid_argument);  // χ₁ overflows
}
