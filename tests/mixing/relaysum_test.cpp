#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <decent/algorithm/gossip.hpp>
#include <decent/algorithm/relaysgd.hpp>
#include <decent/comm/inprocess.hpp>
#include <decent/sim/cluster.hpp>
#include <decent/sim/problems.hpp>
#include <decent/sim/simulation.hpp>
#include <decent/topology/analysis.hpp>
#include <decent/topology/any_topology.hpp>
#include <decent/topology/spec.hpp>
#include <decent/topology/topologies.hpp>

using namespace decent;

namespace {

using history = std::vector<std::vector<std::vector<double>>>;  // [round][worker][coordinate], after each mix

/// Runs `rounds` RelaySum rounds on every worker of `topo`. Before round t, `input(t, i, x)` may overwrite
/// worker i's parameters (the "local step"); the parameters start at `start(i, x)`. Returns x after each round.
template <class Topology>
history run_relay(const Topology& topo, std::size_t d, int rounds, relaysum_options options,
                  const std::function<void(int, int, std::vector<double>&)>& input,
                  const std::function<void(int, std::vector<double>&)>& start = {},
                  std::vector<std::vector<int>>* reached = nullptr, bool packed = true, comm::inprocess_options world = {},
                  std::vector<std::size_t>* state_bytes = nullptr) {
  const int n = topo.size();
  history out(static_cast<std::size_t>(rounds), std::vector<std::vector<double>>(static_cast<std::size_t>(n)));
  if (reached) reached->assign(static_cast<std::size_t>(rounds), std::vector<int>(static_cast<std::size_t>(n)));
  if (state_bytes) state_bytes->assign(static_cast<std::size_t>(n), 0);
  sim::cluster workers(n, world);
  workers.run([&](comm::inprocess c) {
    const int rank = c.rank();
    const auto me = static_cast<std::size_t>(rank);
    std::vector<double> x(d, 0.0);
    if (start) start(rank, x);
    // Unpacked: the same coordinates in two tensors with a gap between them (so not one buffer).
    const std::size_t head = d / 2;
    std::vector<double> storage(d + 1, 0.0);
    auto to_storage = [&] {
      for (std::size_t k = 0; k < d; ++k) storage[k < head ? k : k + 1] = x[k];
    };
    auto from_storage = [&] {
      for (std::size_t k = 0; k < d; ++k) x[k] = storage[k < head ? k : k + 1];
    };
    to_storage();
    const parameters<double> p = packed ? parameters<double>::packed(x.data(), parameter_layout{{static_cast<std::int64_t>(d)}})
                                        : parameters<double>{{storage.data(), {static_cast<std::int64_t>(head)}},
                                                             {storage.data() + head + 1, {static_cast<std::int64_t>(d - head)}}};
    REQUIRE(p.is_packed() == packed);
    relaysgd<Topology, comm::inprocess, exec::host, double> relay(topo, std::move(c), p, options, exec::host(1));
    if (state_bytes) (*state_bytes)[me] = relay.rule().state_bytes();
    for (int t = 0; t < rounds; ++t) {
      input(t, rank, x);
      if (!packed) to_storage();
      const std::uint64_t sent = relay.communicator().stats().bytes_sent;
      relay.mix();
      CHECK(relay.communicator().stats().bytes_sent - sent == relay.rule().bytes_per_round());
      if (!packed) from_storage();
      out[static_cast<std::size_t>(t)][me] = x;
      if (reached) (*reached)[static_cast<std::size_t>(t)][me] = relay.rule().reached(relay.executor()).front();
    }
  });
  return out;
}

/// Hop distances of a tree (BFS from every vertex).
std::vector<std::vector<int>> distances(const topology::graph& g) {
  std::vector<std::vector<int>> d;
  for (int i = 0; i < g.size(); ++i) d.push_back(topology::breadth_first_search(g, i).distance);
  return d;
}

/// The oracle of docs/algorithms.md §2.1, independent of message passing: after round t, S_i = Σ_k u_k at round
/// t − max(d(i,k) − 1, 0) over the k with d(i,k) ≤ t + 1, and C_i counts those k. Inputs u[t][k] are given.
void relay_oracle(const topology::graph& tree, const std::vector<std::vector<double>>& u, std::size_t t, int i,
                  double& s, int& c) {
  const auto d = distances(tree);
  s = 0;
  c = 0;
  for (int k = 0; k < tree.size(); ++k) {
    const int dist = d[static_cast<std::size_t>(i)][static_cast<std::size_t>(k)];
    if (static_cast<std::size_t>(dist) > t + 1) continue;
    s += u[t - static_cast<std::size_t>(std::max(dist - 1, 0))][static_cast<std::size_t>(k)];
    ++c;
  }
}

topology::graph random_bfs_tree() {
  return topology::bfs_spanning_tree(topology::random_regular(14, 3, 7), 3);
}

}  // namespace

TEST_CASE("exactness: constant inputs give every worker the exact mean after diameter rounds, not one earlier") {
  // A star's centre has degree 5: the kernels with a run-time degree (chains and binary trees use the fixed ones).
  for (const auto& tree : {topology::chain(7), topology::binary_tree(13), random_bfs_tree(), topology::star(6)}) {
    CAPTURE(tree.name());
    const int n = tree.size(), diameter = topology::diameter(tree);
    const std::size_t d = 3;
    auto value = [](int i, std::size_t k) { return std::sin(1.0 + i) * 10 + static_cast<double>(k); };
    std::vector<double> mean(d, 0.0);
    for (int i = 0; i < n; ++i)
      for (std::size_t k = 0; k < d; ++k) mean[k] += value(i, k) / n;
    for (auto normalization : {relay_normalization::world_size, relay_normalization::counts}) {
      std::vector<std::vector<int>> reached;
      relaysum_options o;
      o.normalization = normalization;
      const auto xs = run_relay(tree, d, diameter + 2, o,
                                [&](int, int i, std::vector<double>& x) {
                                  for (std::size_t k = 0; k < d; ++k) x[k] = value(i, k);
                                },
                                {}, &reached);
      for (int t = 0; t < diameter + 2; ++t) {
        double worst = 0;
        int fewest = n;
        for (int i = 0; i < n; ++i) {
          fewest = std::min(fewest, reached[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)]);
          for (std::size_t k = 0; k < d; ++k)
            worst = std::max(worst, std::abs(xs[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)][k] - mean[k]) /
                                        std::abs(mean[k]));
        }
        CAPTURE(t);
        if (t + 1 >= diameter) {  // after `diameter` rounds (t is 0-indexed)
          CHECK(worst <= 1e-12);
          CHECK(fewest == n);
        } else {
          CHECK(worst > 1e-6);
          CHECK(fewest < n);
        }
      }
    }
  }
}

TEST_CASE("exactness on double binary trees: both trees' coordinates exact after the larger diameter") {
  const topology::double_binary_tree trees(12);
  const int rounds = std::max(topology::diameter(trees.tree(0)), topology::diameter(trees.tree(1)));
  const std::size_t d = 7;  // odd: the two trees relay 4 and 3 coordinates
  const auto xs = run_relay(trees, d, rounds, {}, [&](int, int i, std::vector<double>& x) {
    for (std::size_t k = 0; k < d; ++k) x[k] = i * 1.5 + static_cast<double>(k * k);
  });
  for (int i = 0; i < 12; ++i)
    for (std::size_t k = 0; k < d; ++k)
      CHECK(xs.back()[static_cast<std::size_t>(i)][k] == doctest::Approx(8.25 + static_cast<double>(k * k)).epsilon(1e-12));
}

TEST_CASE("delivery test of docs/algorithms.md §2.1: chain n=4, a kick of 1 on worker 0 at step 0") {
  const auto chain = topology::chain(4);
  auto kick = [](int t, int i, std::vector<double>& x) {
    if (t == 0 && i == 0) x[0] += 1.0;  // gradient -1, lr 1
  };
  relaysum_options grad;
  grad.variant = relay_variant::grad;
  const auto g = run_relay(chain, 1, 5, grad, kick);
  const std::vector<std::vector<double>> grad_expected = {
      {.25, .25, 0, 0}, {.25, .25, .25, 0}, {.25, .25, .25, .25}, {.25, .25, .25, .25}, {.25, .25, .25, .25}};
  for (std::size_t t = 0; t < 5; ++t)
    for (std::size_t i = 0; i < 4; ++i) CHECK(g[t][i][0] == doctest::Approx(grad_expected[t][i]).epsilon(1e-15));

  const auto m = run_relay(chain, 1, 2, {}, kick);
  const std::vector<std::vector<double>> model_expected = {{.25, .25, 0, 0}, {.125, .125, .3125, 0}};
  for (std::size_t t = 0; t < 2; ++t)
    for (std::size_t i = 0; i < 4; ++i) CHECK(m[t][i][0] == doctest::Approx(model_expected[t][i]).epsilon(1e-15));
}

TEST_CASE("a run-time degree mixes in blocks of coordinates: a star's centre over 2 full blocks and a part one") {
  // The centre of star(7) has degree 6 (the run-time degree kernels, blocks of detail::relay_block coordinates
  // on the host); every coordinate gets its own kicks, and each must follow the oracle of docs/algorithms.md §2.1.
  const topology::graph tree = topology::star(7);
  const int n = tree.size(), rounds = 4;
  const auto un = static_cast<std::size_t>(n);
  const std::size_t d = 2 * decent::detail::relay_block + 37;
  auto kick_value = [](int i, std::size_t k) { return std::cos(0.1 * static_cast<double>(k) + i) + 0.01 * i; };
  auto kick = [&](int t, int i, std::vector<double>& x) {
    if (t == 0)
      for (std::size_t k = 0; k < d; ++k) x[k] += kick_value(i, k);
  };
  relaysum_options grad;
  grad.variant = relay_variant::grad;
  const auto g = run_relay(tree, d, rounds, grad, kick);
  const auto m = run_relay(tree, d, rounds, {}, kick);
  for (std::size_t k = 0; k < d; ++k) {
    CAPTURE(k);
    std::vector<std::vector<double>> u(static_cast<std::size_t>(rounds), std::vector<double>(un, 0.0)), um = u;
    for (int j = 0; j < n; ++j) u[0][static_cast<std::size_t>(j)] = kick_value(j, k);
    std::vector<double> x(un, 0.0), xm(un, 0.0);
    for (std::size_t t = 0; t < static_cast<std::size_t>(rounds); ++t) {
      for (int j = 0; j < n; ++j)
        um[t][static_cast<std::size_t>(j)] = xm[static_cast<std::size_t>(j)] + (t == 0 ? kick_value(j, k) : 0.0);
      std::vector<double> next(un);
      for (int i = 0; i < n; ++i) {
        const auto ui = static_cast<std::size_t>(i);
        double s;
        int c;
        relay_oracle(tree, u, t, i, s, c);
        x[ui] += s / n;
        relay_oracle(tree, um, t, i, s, c);
        next[ui] = s / n;
        REQUIRE(g[t][ui][k] == doctest::Approx(x[ui]).epsilon(1e-13));
        REQUIRE(m[t][ui][k] == doctest::Approx(next[ui]).epsilon(1e-13));
      }
      xm = next;
    }
  }
}

TEST_CASE_TEMPLATE("once every worker is heard, the branch-free update gives the general update's bits", T, float,
                   double) {
  // relay_update_kernel's heard_all finish (S/n) against the general one, on sums from 1e-44 to 3e38 (subnormal and
  // overflowing f32 quotients included), exact zeros, ±0, ∞ and NaN. Without its + 0 (the general finish's zero
  // fill) a sum of −0 gave −0 instead of +0 and this failed.
  using decent::detail::relay_finish;
  constexpr std::size_t d = 4096;
  const exec::host ex(1);
  const random_stream gen{7, 1, 2};
  std::vector<T> x0(d), r0(d), r1(d), reference(d);
  for (std::size_t i = 0; i < d; ++i) {
    const T scale = std::ldexp(T(1), static_cast<int>(i % 270) - 145);  // 2^-145 … 2^124
    x0[i] = scale * static_cast<T>(gen.normal(4 * i));
    r0[i] = scale * static_cast<T>(gen.normal(4 * i + 1));
    // Every 7th sum (x0 + r0) + r1 is exactly zero (a +0: its sign must come out the same in every finish).
    r1[i] = i % 7 == 0 ? -(x0[i] + r0[i]) : scale * static_cast<T>(gen.normal(4 * i + 2));
    reference[i] = static_cast<T>(gen.normal(4 * i + 3));
  }
  x0[0] = std::numeric_limits<T>::infinity();
  x0[1] = std::numeric_limits<T>::quiet_NaN();
  x0[2] = std::numeric_limits<T>::max();
  r0[2] = std::numeric_limits<T>::max();
  x0[3] = T(-0.0);
  r0[3] = T(-0.0);
  r1[3] = T(-0.0);
  for (const int n : {1, 2, 4, 12, 16, 1024, 1 << 20}) {
    for (const double reached : {static_cast<double>(n), n + 3.0}) {  // C ≥ n: every worker heard
      CAPTURE(n);
      CAPTURE(reached);
      auto run = [&]<relay_finish Finish>() {
        std::vector<T> x = x0;
        decent::detail::relay_pointers<T, 2> p{{r0.data(), r1.data()}, {nullptr, nullptr}};
        ex.for_each(d, decent::detail::relay_update_kernel<T, 2, 1, Finish>{
                           x.data(), 1, nullptr, reference.data(), p, 2, &reached, static_cast<double>(n), false,
                           nullptr, d, 1});
        return x;
      };
      const auto general = run.template operator()<relay_finish::general>();
      const auto fast = run.template operator()<relay_finish::heard_all>();
      int subnormal = 0;
      for (std::size_t i = 0; i < d; ++i) {
        CAPTURE(i);
        REQUIRE(std::memcmp(&fast[i], &general[i], sizeof(T)) == 0);
        subnormal += std::fpclassify(general[i]) == FP_SUBNORMAL;
      }
      // The sums reach the subnormal quotients (those that round at fewer bits).
      if (std::is_same_v<T, float> && n >= 16) CHECK(subnormal > 0);
    }
  }
}

TEST_CASE("kicks on all workers, on chains and trees, match the delay formula of docs/algorithms.md §2.1") {
  for (const auto& tree : {topology::chain(4), topology::binary_tree(6), random_bfs_tree()}) {
    CAPTURE(tree.name());
    const int n = tree.size(), rounds = 8;
    const auto un = static_cast<std::size_t>(n);
    auto kick_value = [](int i) { return 1.0 + 0.5 * i; };
    auto kick = [&](int t, int i, std::vector<double>& x) {
      if (t == 0) x[0] += kick_value(i);
    };
    // Grad variant: u_k = the kick at round 0, nothing later; x_i(t+1) = x_i(t) + S_i(t)/n.
    relaysum_options grad;
    grad.variant = relay_variant::grad;
    const auto g = run_relay(tree, 1, rounds, grad, kick);
    std::vector<std::vector<double>> u(static_cast<std::size_t>(rounds), std::vector<double>(un, 0.0));
    for (int k = 0; k < n; ++k) u[0][static_cast<std::size_t>(k)] = kick_value(k);
    std::vector<double> x(un, 0.0);
    for (std::size_t t = 0; t < static_cast<std::size_t>(rounds); ++t)
      for (int i = 0; i < n; ++i) {
        double s;
        int c;
        relay_oracle(tree, u, t, i, s, c);
        x[static_cast<std::size_t>(i)] += s / n;
        CHECK(g[t][static_cast<std::size_t>(i)][0] == doctest::Approx(x[static_cast<std::size_t>(i)]).epsilon(1e-14));
      }
    // Model variant: u_k(t) = x_k(t) (+ the kick at round 0); x_i(t+1) = (S_i(t) + (n − C_i(t))·0)/n.
    const auto m = run_relay(tree, 1, rounds, {}, kick);
    std::vector<std::vector<double>> um(static_cast<std::size_t>(rounds), std::vector<double>(un, 0.0));
    std::vector<double> xm(un, 0.0);
    for (std::size_t t = 0; t < static_cast<std::size_t>(rounds); ++t) {
      for (int k = 0; k < n; ++k) um[t][static_cast<std::size_t>(k)] = xm[static_cast<std::size_t>(k)] + (t == 0 ? kick_value(k) : 0.0);
      for (int i = 0; i < n; ++i) {
        double s;
        int c;
        relay_oracle(tree, um, t, i, s, c);
        xm[static_cast<std::size_t>(i)] = s / n;
        CHECK(m[t][static_cast<std::size_t>(i)][0] == doctest::Approx(xm[static_cast<std::size_t>(i)]).epsilon(1e-14));
      }
    }
    // Counts normalisation: x_i = S_i/C_i (model) and x_i += S_i/C_i (grad).
    relaysum_options counts;
    counts.normalization = relay_normalization::counts;
    const auto mc = run_relay(tree, 1, rounds, counts, kick);
    counts.variant = relay_variant::grad;
    const auto gc = run_relay(tree, 1, rounds, counts, kick);
    std::vector<double> xc(un, 0.0), xg(un, 0.0);
    for (std::size_t t = 0; t < static_cast<std::size_t>(rounds); ++t) {
      for (int k = 0; k < n; ++k) um[t][static_cast<std::size_t>(k)] = xc[static_cast<std::size_t>(k)] + (t == 0 ? kick_value(k) : 0.0);
      for (int i = 0; i < n; ++i) {
        const auto ii = static_cast<std::size_t>(i);
        double s, sg;
        int c, cg;
        relay_oracle(tree, um, t, i, s, c);
        relay_oracle(tree, u, t, i, sg, cg);
        xc[ii] = s / c;
        xg[ii] += sg / cg;
        CHECK(mc[t][ii][0] == doctest::Approx(xc[ii]).epsilon(1e-14));
        CHECK(gc[t][ii][0] == doctest::Approx(xg[ii]).epsilon(1e-14));
      }
    }
  }
}

TEST_CASE("double binary trees: coordinate k is relayed by tree k mod 2, with that tree's delays") {
  const topology::double_binary_tree trees(8);
  relaysum_options grad;
  grad.variant = relay_variant::grad;
  const int rounds = 6;
  const auto xs = run_relay(trees, 2, rounds, grad, [](int t, int i, std::vector<double>& x) {
    if (t == 0 && i == 0) x = {x[0] + 1.0, x[1] + 1.0};  // the same kick on both coordinates of worker 0
  });
  for (std::size_t coordinate = 0; coordinate < 2; ++coordinate) {
    const topology::graph& tree = trees.tree(static_cast<int>(coordinate));
    std::vector<std::vector<double>> u(rounds, std::vector<double>(8, 0.0));
    u[0][0] = 1.0;
    std::vector<double> x(8, 0.0);
    for (std::size_t t = 0; t < rounds; ++t)
      for (int i = 0; i < 8; ++i) {
        double s;
        int c;
        relay_oracle(tree, u, t, i, s, c);
        x[static_cast<std::size_t>(i)] += s / 8;
        CHECK(xs[t][static_cast<std::size_t>(i)][coordinate] == doctest::Approx(x[static_cast<std::size_t>(i)]).epsilon(1e-15));
      }
  }
  // The two trees deliver at different times: worker 0 is a leaf of tree 0 but interior in tree 1.
  CHECK(xs[0][1][0] != xs[0][1][1]);
}

TEST_CASE("the model variant fills missing workers with the common start x0") {
  // Everyone starts at x0 = 5; worker 0 is kicked by +5 at round 0. Oracle: x_i = (S_i + (n − C_i)·5)/n.
  const auto chain = topology::chain(5);
  const int n = 5, rounds = 6;
  const auto xs = run_relay(
      chain, 1, rounds, {}, [](int t, int i, std::vector<double>& x) { if (t == 0 && i == 0) x[0] += 5.0; },
      [](int, std::vector<double>& x) { x[0] = 5.0; });
  CHECK(xs[0][4][0] == 5.0);  // (5 + 5 + 3·5)/5: worker 4 holds two inputs, the fill stands in for three
  CHECK(xs[0][1][0] == 6.0);  // (10 + 5 + 5 + 2·5)/5
  std::vector<std::vector<double>> u(rounds, std::vector<double>(n));
  std::vector<double> x(n, 5.0);
  for (std::size_t t = 0; t < rounds; ++t) {
    for (std::size_t k = 0; k < n; ++k) u[t][k] = x[k] + (t == 0 && k == 0 ? 5.0 : 0.0);
    for (int i = 0; i < n; ++i) {
      double s;
      int c;
      relay_oracle(chain, u, t, i, s, c);
      x[static_cast<std::size_t>(i)] = (s + (n - c) * 5.0) / n;
      CHECK(xs[t][static_cast<std::size_t>(i)][0] == doctest::Approx(x[static_cast<std::size_t>(i)]).epsilon(1e-14));
    }
  }
}

TEST_CASE("dropped messages: no input is ever counted twice, and C_i is exactly the number of inputs held") {
  // Inputs 2^k: S_i = n·x_i (x0 = 0, n = 16, exact in f64) encodes which workers it holds, one bit each.
  for (const auto& tree : {topology::binary_tree(16), topology::chain(16)}) {
    CAPTURE(tree.name());
    relaysum_options o;
    o.drop_probability = 0.2;
    o.drop_seed = 11;
    std::vector<std::vector<int>> reached;
    const int rounds = 30;
    const auto xs = run_relay(tree, 1, rounds, o, [](int, int i, std::vector<double>& x) { x[0] = std::ldexp(1.0, i); },
                              {}, &reached);
    bool some_loss = false;
    for (int t = 0; t < rounds; ++t)
      for (int i = 0; i < 16; ++i) {
        const double s = 16 * xs[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)][0];
        REQUIRE(s == std::floor(s));
        const auto bits = static_cast<std::uint64_t>(s);
        REQUIRE(bits < (std::uint64_t{1} << 16));                    // no carry: nobody counted twice
        CHECK(((bits >> i) & 1u) == 1u);                            // its own input is always there
        CHECK(std::popcount(bits) == reached[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)]);
        if (t >= 15 && std::popcount(bits) < 16) some_loss = true;
      }
    CHECK(some_loss);  // drops did happen after the warm-up
    // Same seed, same losses.
    std::vector<std::vector<int>> again;
    run_relay(tree, 1, rounds, o, [](int, int i, std::vector<double>& x) { x[0] = std::ldexp(1.0, i); }, {}, &again);
    CHECK(again == reached);
  }
}

TEST_CASE("dropped messages follow the reference pseudo-code of docs/algorithms.md §4, replayed with the same drops") {
  // An independent message-passing replay (one scalar per worker, model variant, world_size, x0_i = sin(i): the
  // fill of what was not heard), using the documented drop rule: the receiver i loses the message from j in round
  // t when random_stream{seed, j | 2^31, i}.uniform(t·slices + slice) < p. With update_reference, x0 ← x after
  // every round (the reference's relaysum_model_update_ref_state).
  const auto tree = topology::binary_tree(11);
  const int n = tree.size(), rounds = 12;
  for (const bool update_reference : {false, true}) {
    CAPTURE(update_reference);
    relaysum_options o;
    o.drop_probability = 0.3;
    o.drop_seed = 5;
    o.update_reference = update_reference;
    auto input = [](int t, int i) { return std::cos(0.3 * t + i); };
    const auto xs = run_relay(tree, 1, rounds, o, [&](int t, int i, std::vector<double>& x) { x[0] = input(t, i); },
                              [](int i, std::vector<double>& x) { x[0] = std::sin(i); });
    std::vector<double> reference(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) reference[static_cast<std::size_t>(i)] = std::sin(i);
    auto dropped = [&](int t, int from, int to) {
      const random_stream s{o.drop_seed, static_cast<std::uint32_t>(from) | 0x80000000u, static_cast<std::uint32_t>(to)};
      return s.uniform(static_cast<std::uint64_t>(t)) < o.drop_probability;
    };
    std::vector<std::vector<double>> relay(static_cast<std::size_t>(n)), count(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      relay[static_cast<std::size_t>(i)].assign(tree.neighbors(i).size(), 0.0);
      count[static_cast<std::size_t>(i)].assign(tree.neighbors(i).size(), 0.0);
    }
    int losses = 0;
    for (int t = 0; t < rounds; ++t) {
      // Messages of round t from the relays of round t − 1.
      std::vector<std::vector<double>> send(static_cast<std::size_t>(n)), send_count(static_cast<std::size_t>(n));
      for (int i = 0; i < n; ++i) {
        const auto nb = tree.neighbors(i);
        for (std::size_t j = 0; j < nb.size(); ++j) {
          double m = input(t, i), c = 1;
          for (std::size_t k = 0; k < nb.size(); ++k)
            if (k != j) {
              m += relay[static_cast<std::size_t>(i)][k];
              c += count[static_cast<std::size_t>(i)][k];
            }
          send[static_cast<std::size_t>(i)].push_back(m);
          send_count[static_cast<std::size_t>(i)].push_back(c);
        }
      }
      for (int i = 0; i < n; ++i) {
        const auto nb = tree.neighbors(i);
        double s = input(t, i), c = 1;
        for (std::size_t j = 0; j < nb.size(); ++j) {
          const int from = nb[j];
          const auto back = tree.neighbors(from);
          const auto q = static_cast<std::size_t>(std::find(back.begin(), back.end(), i) - back.begin());
          const bool lost = dropped(t, from, i);
          losses += lost ? 1 : 0;
          relay[static_cast<std::size_t>(i)][j] = lost ? 0.0 : send[static_cast<std::size_t>(from)][q];
          count[static_cast<std::size_t>(i)][j] = lost ? 0.0 : send_count[static_cast<std::size_t>(from)][q];
          s += relay[static_cast<std::size_t>(i)][j];
          c += count[static_cast<std::size_t>(i)][j];
        }
        const double expected = (s + (n - c) * reference[static_cast<std::size_t>(i)]) / n;
        CHECK(xs[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)][0] == doctest::Approx(expected).epsilon(1e-14));
        if (update_reference) reference[static_cast<std::size_t>(i)] = expected;
        CHECK(c <= n);  // workers heard from, dropped messages excluded
      }
    }
    CHECK(losses > 5);  // the schedule did drop messages
  }
}

TEST_CASE("overlap: the update uses the previous round's messages, so exactness takes one more round") {
  const auto chain = topology::chain(5);
  relaysum_options o;
  o.overlap = true;
  const auto xs = run_relay(chain, 2, 6, o, [](int, int i, std::vector<double>& x) { x = {1.0 * i, -2.0 * i}; });
  // Diameter 4: exact after 5 rounds, not after 4.
  double worst4 = 0, worst5 = 0;
  for (int i = 0; i < 5; ++i) {
    worst4 = std::max(worst4, std::abs(xs[3][static_cast<std::size_t>(i)][0] - 2.0));
    worst5 = std::max(worst5, std::abs(xs[4][static_cast<std::size_t>(i)][0] - 2.0));
  }
  CHECK(worst4 > 1e-6);
  CHECK(worst5 < 1e-14);
}

TEST_CASE("separate tensors give bit-identical results to one packed buffer") {
  const topology::double_binary_tree trees(9);
  auto step = [](int t, int i, std::vector<double>& x) {
    for (std::size_t k = 0; k < x.size(); ++k) x[k] += std::cos(t + 3.0 * i + static_cast<double>(k));
  };
  CHECK(run_relay(trees, 11, 7, {}, step, {}, nullptr, true) == run_relay(trees, 11, 7, {}, step, {}, nullptr, false));
}

TEST_CASE("in-place exchanges give bit-identical results to separate message buffers, with one buffer per neighbour") {
  auto step = [](int t, int i, std::vector<double>& x) {
    for (std::size_t k = 0; k < x.size(); ++k) x[k] += std::sin(0.7 * t + 3.0 * i + static_cast<double>(k));
  };
  auto apart = [](int i, std::vector<double>& x) {
    for (std::size_t k = 0; k < x.size(); ++k) x[k] = std::cos(i + 0.5 * static_cast<double>(k));
  };
  relaysum_options drops;
  drops.drop_probability = 0.25;
  drops.drop_seed = 3;
  relaysum_options grad;
  grad.variant = relay_variant::grad;
  relaysum_options counts;
  counts.normalization = relay_normalization::counts;
  relaysum_options overlap;
  overlap.overlap = true;
  const std::size_t d = 13;
  // (tree, options, whether it exchanges in place: degree ≤ 3 and no overlap)
  auto compare = [&](const auto& topo, const relaysum_options& o, bool expect_in_place) {
    CAPTURE(topo.name());
    CAPTURE(o.drop_probability);
    CAPTURE(o.overlap);
    std::vector<std::vector<int>> reached_in, reached_apart;
    std::vector<std::size_t> bytes_in, bytes_apart;
    const auto start = o.variant == relay_variant::grad ? std::function<void(int, std::vector<double>&)>{} : apart;
    std::vector<std::vector<int>> reached_copied;
    // In place, the in-process world swaps the relay buffers themselves (their owners); `copied` swaps contents.
    const auto in = run_relay(topo, d, 9, o, step, start, &reached_in, true, {}, &bytes_in);
    const auto copied = run_relay(topo, d, 9, o, step, start, &reached_copied, true, {.swap_owners = false});
    const auto out = run_relay(topo, d, 9, o, step, start, &reached_apart, true, {.in_place = false}, &bytes_apart);
    CHECK(in == out);
    CHECK(copied == out);
    CHECK(reached_in == reached_apart);
    CHECK(reached_copied == reached_apart);
    // Per slice of length L and tree degree k: x0 (or the previous parameters) and k relays of L + 1 values, plus k
    // messages of L + 1 with separate buffers.
    const auto trees = topology::spanning_trees(topo);
    for (int i = 0; i < topo.size(); ++i) {
      std::size_t relays = 0, state = 0;
      for (std::size_t tree = 0; tree < trees.size(); ++tree) {
        const std::size_t length = (d - tree + trees.size() - 1) / trees.size();
        state += length;
        relays += trees[tree].neighbors(i).size() * (length + 1);
      }
      CAPTURE(i);
      CHECK(bytes_apart[static_cast<std::size_t>(i)] == (state + 2 * relays) * sizeof(double));
      CHECK(bytes_in[static_cast<std::size_t>(i)] == (state + (expect_in_place ? 1 : 2) * relays) * sizeof(double));
    }
  };
  compare(topology::chain(7), {}, true);
  compare(topology::binary_tree(16), {}, true);
  compare(topology::binary_tree(16), drops, true);
  compare(topology::binary_tree(10), grad, true);
  compare(topology::binary_tree(10), counts, true);
  compare(topology::double_binary_tree(9), {}, true);
  compare(topology::binary_tree(10), overlap, false);
  compare(topology::star(6), {}, false);  // degree 5: separate messages
}

std::atomic<int> relay_copies{0};
void counting_copy(void* dst, const void* src, std::size_t bytes) {
  ++relay_copies;
  std::memcpy(dst, src, bytes);
}

TEST_CASE("in place, RelaySum's exchange moves no byte: the relays change owners") {
  auto step = [](int t, int i, std::vector<double>& x) { x[static_cast<std::size_t>(t) % x.size()] += i + 1; };
  relay_copies = 0;
  const auto owners = run_relay(topology::binary_tree(10), 5, 6, {}, step, {}, nullptr, true, {.copy = &counting_copy});
  CHECK(relay_copies == 0);
  const auto contents =
      run_relay(topology::binary_tree(10), 5, 6, {}, step, {}, nullptr, true, {.copy = &counting_copy, .swap_owners = false});
  // The lower end of each of the 9 tree edges swaps one staged chunk per round: 3 copies, 6 rounds.
  CHECK(relay_copies == 3 * 9 * 6);
  CHECK(owners == contents);
}

TEST_CASE("graphs with cycles or that change in time are rejected with the fix in the message") {
  std::vector<float> x(8, 0.0f);
  auto build = [&](const auto& topo) {
    sim::cluster workers(topo.size());
    workers.run([&](comm::inprocess c) {
      const parameters<float> p{{x.data() + c.rank(), {1}}};
      using topology_t = std::decay_t<decltype(topo)>;
      relaysgd<topology_t, comm::inprocess> relay(topo, std::move(c), p);
    });
  };
  CHECK_THROWS_WITH_AS(build(topology::ring(6)), doctest::Contains("bfs:0:ring:6"), topology_error);
  CHECK_THROWS_WITH_AS(build(topology::ring(6)), doctest::Contains("binary-tree:N"), topology_error);
  CHECK_THROWS_WITH_AS(build(topology::parse("one-peer-exponential:8")), doctest::Contains("binary-tree:N"),
                       decent::error);
  CHECK_NOTHROW(build(topology::star(6)));  // a star is a tree
}

TEST_CASE("update_reference needs the model variant and the world_size normalisation, where it fills") {
  std::vector<float> x(4, 0.0f);
  auto build = [&](relaysum_options o) {
    sim::cluster(4).run([&](comm::inprocess c) {
      const parameters<float> p{{x.data() + c.rank(), {1}}};
      relaysgd<topology::graph, comm::inprocess> relay(topology::chain(4), std::move(c), p, o);
    });
  };
  relaysum_options grad;
  grad.variant = relay_variant::grad;
  grad.update_reference = true;
  CHECK_THROWS_WITH_AS(build(grad), doctest::Contains("applies to the model variant"), invalid_argument);
  relaysum_options counts;
  counts.normalization = relay_normalization::counts;
  counts.update_reference = true;
  CHECK_THROWS_WITH_AS(build(counts), doctest::Contains("needs the world_size normalisation"), invalid_argument);
}

TEST_CASE("bytes per worker grow by exactly the predicted payload per step") {
  for (const std::string spec : {"binary-tree:10", "double-binary-tree:10", "chain:7"}) {
    CAPTURE(spec);
    const auto topo = topology::parse(spec);
    const int n = topo.size();
    const sim::consensus_problem<float> task(n, parameter_layout{{13}}, 1);
    sim::cluster workers(n);
    std::vector<double> bytes;
    sim::simulate<float>(
        workers, task, {5, 0, 0, 1},
        [&](comm::inprocess c, parameters<float> p) {
          return relaysgd<topology::any_topology, comm::inprocess, exec::host, float>(topo, std::move(c), std::move(p), {},
                                                                                       exec::host(1));
        },
        [&](const sim::row& r) { bytes.push_back(r.bytes_per_worker); });
    // Each tree sends, per edge and direction, its share of the 13 coordinates plus one count, in f32.
    const auto trees = topology::spanning_trees(topo);
    double per_step = 0;
    for (std::size_t tree = 0; tree < trees.size(); ++tree) {
      const std::size_t share = (13 - tree + trees.size() - 1) / trees.size();
      per_step += 2.0 * trees[tree].num_edges() * static_cast<double>((share + 1) * sizeof(float)) / n;
    }
    for (std::size_t t = 1; t < bytes.size(); ++t) CHECK(bytes[t] - bytes[t - 1] == doctest::Approx(per_step).epsilon(1e-12));
  }
}

TEST_CASE("heterogeneity: relaysgd solves 16 heterogeneous quadratics in 300 steps, gossip on a ring cannot") {
  const int n = 16;
  auto relay_loss = [&](double zeta2, double lr) {
    const topology::graph tree = topology::binary_tree(n);
    const sim::quadratic_problem<double> task(n, sim::quadratic_options{10, 0.5, 100, zeta2, 0, 0});
    sim::cluster workers(n);
    return sim::simulate<double>(workers, task, {300, lr, 0, 300}, [&](comm::inprocess c, parameters<double> p) {
             return relaysgd<topology::graph, comm::inprocess, exec::host, double>(tree, std::move(c), std::move(p), {},
                                                                                   exec::host(1));
           })
        .loss.value();
  };
  auto gossip_loss = [&](double zeta2, double lr) {
    const topology::graph ring = topology::ring(n);
    const sim::quadratic_problem<double> task(n, sim::quadratic_options{10, 0.5, 100, zeta2, 0, 0});
    sim::cluster workers(n);
    return sim::simulate<double>(workers, task, {300, lr, 0, 300}, [&](comm::inprocess c, parameters<double> p) {
             return gossip<topology::graph, comm::inprocess, exec::host, double>(ring, std::move(c), std::move(p), {},
                                                                                 exec::host(1));
           })
        .loss.value();
  };
  CHECK(relay_loss(1.0, 1.0) <= 1e-6);
  for (double lr : {0.01, 0.03, 0.1, 0.3, 1.0}) {
    CAPTURE(lr);
    const double loss = gossip_loss(1.0, lr);
    CHECK(std::isfinite(loss));
    CHECK(loss > 1e-4);
  }
  CHECK(gossip_loss(0.0, 0.3) <= 1e-6);  // the gap is the heterogeneity, not a weak gossip
}

TEST_CASE("RelaySGD/Grad refuses workers that start apart (they would never agree), the model variant mixes them") {
  const topology::graph tree = topology::binary_tree(5);
  const auto run = [&](relaysum_options o, bool apart) {
    std::vector<std::string> errors(5);
    std::vector<double> final_spread(5);
    sim::cluster(5).run([&](comm::inprocess c) {
      const int rank = c.rank();
      std::vector<double> x(3, apart ? 1.0 + rank : 1.0);
      relaysgd<topology::graph, comm::inprocess, exec::host, double> r(tree, std::move(c),
                                                                        parameters<double>::packed(x.data(), {{3}}), o);
      try {
        for (int t = 0; t < 6; ++t) r.mix();
      } catch (const comm_error& e) {
        errors[static_cast<std::size_t>(rank)] = e.what();
      }
      final_spread[static_cast<std::size_t>(rank)] = x[0];
    });
    return std::pair{errors, final_spread};
  };
  relaysum_options grad;
  grad.variant = relay_variant::grad;
  const auto [errors, xs] = run(grad, true);
  for (const auto& e : errors) CHECK(e.find("disagree on the starting parameters") != std::string::npos);
  CHECK(run(grad, false).first == std::vector<std::string>(5));
  grad.check_common_start = false;  // on purpose: the differences stay (no update ever moves them)
  const auto [no_errors, apart] = run(grad, true);
  CHECK(no_errors == std::vector<std::string>(5));
  for (int i = 0; i < 5; ++i) CHECK(apart[static_cast<std::size_t>(i)] == 1.0 + i);
  // The model variant mixes them, each worker filling with its own start until it has heard from everyone: the
  // oracle of docs/algorithms.md §2.1 with u_k = x_k before each round gives x_i ← (S_i + (n − C_i)·x⁰_i)/n.
  const auto [model_errors, mixed] = run(relaysum_options{}, true);
  CHECK(model_errors == std::vector<std::string>(5));
  std::vector<std::vector<double>> u{{1, 2, 3, 4, 5}};
  for (std::size_t t = 0; t < 6; ++t) {
    std::vector<double> next(5);
    for (int i = 0; i < 5; ++i) {
      double s = 0;
      int c = 0;
      relay_oracle(tree, u, t, i, s, c);
      next[static_cast<std::size_t>(i)] = (s + (5 - c) * (1.0 + i)) / 5;
    }
    u.push_back(next);
  }
  for (int i = 0; i < 5; ++i) CHECK(mixed[static_cast<std::size_t>(i)] == doctest::Approx(u[6][static_cast<std::size_t>(i)]).epsilon(1e-12));
  // Not the mean of the starts: far workers fill with their own start for longer (3 would be the mean).
  CHECK(std::abs(mixed[0] - 3.0) > 0.01);
}
