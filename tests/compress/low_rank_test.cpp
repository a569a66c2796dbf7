#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <decent/algorithm/gossip.hpp>
#include <decent/algorithm/powergossip.hpp>
#include <decent/comm/inprocess.hpp>
#include <decent/compress/low_rank_kernels.hpp>
#include <decent/exec/host.hpp>
#include <decent/mixing/decoded.hpp>
#include <decent/sim/cluster.hpp>
#include <decent_sim/runner.hpp>
#include <decent/topology/topologies.hpp>

using namespace decent;

namespace {

using pg_t = powergossip<topology::graph, comm::inprocess, exec::host, double>;

/// Runs `steps` PowerGossip steps on every worker of `g` over tensors of `layout` (packed), starting from
/// `start(i, x)`; `setup(rank, pg)` runs once before the first step. Returns each worker's parameters after
/// every step.
std::vector<std::vector<std::vector<double>>> run_pg(const topology::graph& g, const parameter_layout& layout, int steps,
                                                     powergossip_options o,
                                                     const std::function<void(int, std::vector<double>&)>& start,
                                                     const std::function<void(int, pg_t&)>& setup = {}) {
  const int n = g.size();
  std::vector<std::vector<std::vector<double>>> out(static_cast<std::size_t>(steps),
                                                    std::vector<std::vector<double>>(static_cast<std::size_t>(n)));
  sim::cluster workers(n);
  workers.run([&](comm::inprocess c) {
    const int rank = c.rank();
    std::vector<double> x(layout.numel());
    start(rank, x);
    pg_t pg(g, std::move(c), parameters<double>::packed(x.data(), layout), o, exec::host(1));
    if (setup) setup(rank, pg);
    for (int t = 0; t < steps; ++t) {
      pg.mix();
      out[static_cast<std::size_t>(t)][static_cast<std::size_t>(rank)] = x;
    }
  });
  return out;
}

void random_start(int i, std::vector<double>& x) {
  const random_stream s{77, 1, static_cast<std::uint32_t>(i)};
  for (std::size_t k = 0; k < x.size(); ++k) x[k] = s.normal(k);
}

}  // namespace

TEST_CASE("powergossip preserves the mean of every tensor to round-off over 1000 steps") {
  const parameter_layout layout{{6, 4}, {5}, {3, 2, 2}, {4, 7}};
  for (const bool warm : {true, false}) {
    powergossip_options o;
    o.gamma = 1.308;
    o.compression.rank = 2;
    o.compression.iterations = 2;
    o.compression.warm_start = warm;
    const auto g = topology::ring(6);
    const auto xs = run_pg(g, layout, 1000, o, random_start);
    std::vector<double> start_sum(layout.numel(), 0.0), end_sum(layout.numel(), 0.0);
    for (int i = 0; i < 6; ++i) {
      std::vector<double> x(layout.numel());
      random_start(i, x);
      for (std::size_t k = 0; k < x.size(); ++k) {
        start_sum[k] += x[k];
        end_sum[k] += xs.back()[static_cast<std::size_t>(i)][k];
      }
    }
    double spread = 0;
    for (const auto& xi : xs.back())
      for (std::size_t k = 0; k < xi.size(); ++k) spread = std::max(spread, std::abs(xi[k] - end_sum[k] / 6));
    CAPTURE(warm);
    for (std::size_t k = 0; k < layout.numel(); ++k) CHECK(end_sum[k] == doctest::Approx(start_sum[k]).epsilon(1e-12).scale(1));
    CHECK(spread < 1e-6);  // and the workers did reach consensus
  }
}

TEST_CASE("inject and bases name a neighbour: others are one clear error, not std::out_of_range") {
  const powergossip_options o;
  const auto zero = [](int, std::vector<double>& x) { std::fill(x.begin(), x.end(), 0.0); };
  const std::vector<double> p(4, 1.0), q(3, 1.0);
  const auto inject = [&](int peer) {
    return [&, peer](int rank, pg_t& pg) {
      if (rank == 0) pg.rule().compressor().inject(pg.executor(), peer, 0, p, q);
    };
  };
  CHECK_THROWS_WITH_AS(run_pg(topology::chain(3), parameter_layout{{4, 3}}, 1, o, zero, inject(2)),
                       "inject: rank 2 is not a neighbour of rank 0 (edges exist only between neighbours)",
                       decent::invalid_argument);
  CHECK_THROWS_WITH_AS(run_pg(topology::chain(3), parameter_layout{{4, 3}}, 1, o, zero, inject(5)),
                       "inject: peer 5 is out of range for 3 workers", decent::invalid_argument);
  CHECK_THROWS_WITH_AS(run_pg(topology::chain(3), parameter_layout{{4, 3}}, 1, o, zero, inject(0)),
                       "inject: rank 0 is not a neighbour of rank 0 (edges exist only between neighbours)",
                       decent::invalid_argument);
  CHECK_NOTHROW(run_pg(topology::chain(3), parameter_layout{{4, 3}}, 1, o, zero, inject(1)));
}

TEST_CASE("replay with injected Q: a rank-1 difference between two workers is removed in one iteration") {
  // X_0 = 0, X_1 = u vᵀ (a 4×3 matrix). Injected Q = c·v. Step 0 is skipped (k = 0); step 1 is odd k:
  // Q̂ = Q/(‖Q‖ + ε), X_i += γ·w·(X_j − X_i)Q̂Q̂ᵀ with w = 1/2 (one neighbour each), γ = 1.
  const std::vector<double> u = {1.0, -2.0, 0.5, 3.0}, v = {2.0, 1.0, -1.0};
  const double c = 0.7, eps = 1e-8;
  const double norm_q = c * std::sqrt(6.0);
  powergossip_options o;  // gamma 1, rank 1, one iteration, warm start
  const auto xs = run_pg(
      topology::chain(2), parameter_layout{{4, 3}}, 3, o,
      [&](int i, std::vector<double>& x) {
        for (std::size_t r = 0; r < 4; ++r)
          for (std::size_t k = 0; k < 3; ++k) x[r * 3 + k] = i == 1 ? u[r] * v[k] : 0.0;
      },
      [&](int rank, pg_t& pg) {
        pg.rule().compressor().inject(pg.executor(), 1 - rank, 0, std::vector<double>(4, 0.25),
                                      std::vector<double>{c * v[0], c * v[1], c * v[2]});
      });
  // Independent computation: (X_1 − X_0)Q̂Q̂ᵀ = u vᵀ · (c‖v‖/(c‖v‖ + ε))², both workers move half of it.
  const double shrink = (c * 6.0 / (norm_q + eps)) * (c / (norm_q + eps));  // vᵀq̂·q̂_k/v_k
  for (std::size_t r = 0; r < 4; ++r)
    for (std::size_t k = 0; k < 3; ++k) {
      CHECK(xs[0][0][r * 3 + k] == 0.0);  // step 0: skipped
      CHECK(xs[0][1][r * 3 + k] == u[r] * v[k]);
      CHECK(xs[1][0][r * 3 + k] == doctest::Approx(0.5 * shrink * u[r] * v[k]).epsilon(1e-14));
      CHECK(xs[1][1][r * 3 + k] == doctest::Approx(u[r] * v[k] - 0.5 * shrink * u[r] * v[k]).epsilon(1e-14));
      CHECK(std::abs(xs[1][0][r * 3 + k] - xs[1][1][r * 3 + k]) < 1e-7);  // the difference is gone (up to ε)
    }
}

TEST_CASE("the power iteration stores P = (X_hi − X_lo)·Q̂ on both endpoints") {
  const std::vector<double> start1 = {1, 2, 3, 4, 5, 6};  // 3×2
  std::vector<std::pair<std::vector<double>, std::vector<double>>> bases(2);
  powergossip_options o;
  o.gamma = 1e-9;  // barely move, so the products are those of the start
  sim::cluster workers(2);
  workers.run([&](comm::inprocess c) {
    const int rank = c.rank();
    std::vector<double> x = rank == 1 ? start1 : std::vector<double>(6, 0.0);
    pg_t pg(topology::chain(2), std::move(c), parameters<double>::packed(x.data(), parameter_layout{{3, 2}}), o,
            exec::host(1));
    pg.rule().compressor().inject(pg.executor(), 1 - rank, 0, std::vector<double>{0.0, 0.0, 0.0}, std::vector<double>{3.0, 4.0});
    pg.mix();  // step 0: skipped
    pg.mix();  // step 1: odd k
    bases[static_cast<std::size_t>(rank)] = pg.rule().compressor().bases(pg.executor(), 1 - rank, 0);
  });
  // Q̂ = (3, 4)/(5 + ε); P = (X_1 − X_0)Q̂ = start1·Q̂.
  const double q0 = 3.0 / (5.0 + 1e-8), q1 = 4.0 / (5.0 + 1e-8);
  for (int rank = 0; rank < 2; ++rank)
    for (std::size_t r = 0; r < 3; ++r)
      CHECK(bases[static_cast<std::size_t>(rank)].first[r] == doctest::Approx(start1[2 * r] * q0 + start1[2 * r + 1] * q1).epsilon(1e-14));
  CHECK(bases[0].second == bases[1].second);  // both endpoints hold the same Q̂
}

TEST_CASE("vectors are gossiped uncompressed at rate 1, from the first step") {
  // One 1-D tensor: PowerGossip with γ = 1.308 equals plain gossip with γ = 1, and is not skipped at step 0.
  powergossip_options o;
  o.gamma = 1.308;
  const auto g = topology::ring(5);
  const auto xs = run_pg(g, parameter_layout{{7}}, 3, o, random_start);
  std::vector<std::vector<double>> reference(5, std::vector<double>(7));
  sim::cluster workers(5);
  workers.run([&](comm::inprocess c) {
    auto& x = reference[static_cast<std::size_t>(c.rank())];
    random_start(c.rank(), x);
    gossip<topology::graph, comm::inprocess, exec::host, double> plain(g, std::move(c), {{x.data(), {7}}}, {1.0},
                                                                       exec::host(1));
    for (int t = 0; t < 3; ++t) plain.mix();
  });
  for (std::size_t i = 0; i < 5; ++i)
    for (std::size_t k = 0; k < 7; ++k) CHECK(xs[2][i][k] == doctest::Approx(reference[i][k]).epsilon(1e-15));
}

TEST_CASE("ring:8, 100x100, gamma 1.308: reaches 1e-6, rank 2 or 2 iterations need fewer steps, warm beats cold") {
  auto steps_to = [](std::vector<std::string> extra) {
    std::vector<std::string> flags = {"--algorithm", "powergossip", "--topology", "ring:8", "--problem", "consensus",
                                      "--shape",     "100x100",     "--gamma",    "1.308", "--steps",   "6000"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    std::int64_t reached = -1;
    sim::run(sim::parse_arguments(flags), {}, [&](const sim::row& r) {
      if (*r.relative_consensus <= 1e-6) reached = r.step;
      return reached >= 0;
    });
    return reached;
  };
  const auto r1 = steps_to({}), r2 = steps_to({"--rank", "2"}), i2 = steps_to({"--iterations", "2"});
  const auto cold = steps_to({"--no-warm-start"});
  MESSAGE("steps to 1e-6: rank 1 ", r1, ", rank 2 ", r2, ", 2 iterations ", i2, ", cold ", cold);
  REQUIRE(r1 > 0);
  CHECK(r2 > 0);
  CHECK(i2 > 0);
  CHECK(r2 < r1);
  CHECK(i2 < r1);
  CHECK((cold < 0 || cold > r1));
}

TEST_CASE("bytes per worker: 800 per step for rank 1 on the 8-ring with 100x100 f32 (nothing in the skipped first step)") {
  std::vector<double> bytes;
  sim::run(sim::parse_arguments({"--algorithm", "powergossip", "--topology", "ring:8", "--shape", "100x100",
                                 "--gamma", "1.308", "--steps", "6"}),
           [&](const sim::row& r) { bytes.push_back(r.bytes_per_worker); });
  REQUIRE(bytes.size() == 7);
  CHECK(bytes[1] == 0);
  for (std::size_t t = 2; t < bytes.size(); ++t) CHECK(bytes[t] - bytes[t - 1] == 800);
  // Rank 2, two iterations, with a vector: 2 iterations × 2 neighbours × 100·2 values, + 2 × 10 for the vector.
  std::vector<double> more;
  sim::run(sim::parse_arguments({"--algorithm", "powergossip", "--topology", "ring:8", "--shape", "100x100,10",
                                 "--rank", "2", "--iterations", "2", "--steps", "3"}),
           [&](const sim::row& r) { more.push_back(r.bytes_per_worker); });
  CHECK(more[1] == 2 * 10 * 4);
  CHECK(more[2] - more[1] == (2 * 2 * 200 + 2 * 10) * 4);
}

namespace {

/// A naive PowerGossip written from docs/algorithms.md §3 with one shared state per edge: the oracle of the
/// replay test below. X[i][t] is worker i's tensor t as an a×b row-major matrix.
struct naive_powergossip {
  struct dims {
    std::size_t a, b;
  };
  std::vector<dims> tensors;
  int rank, iterations;
  double gamma, weight;
  std::vector<std::vector<std::vector<double>>> x;  // [worker][tensor]
  std::map<std::pair<int, int>, std::vector<std::pair<std::vector<double>, std::vector<double>>>> edge;  // P, Q

  static void orthonormalize(std::vector<double>& m, std::size_t rows, std::size_t cols) {
    for (std::size_t c = 0; c < cols; ++c) {
      double norm = 0;
      for (std::size_t i = 0; i < rows; ++i) norm += m[i * cols + c] * m[i * cols + c];
      norm = std::sqrt(norm) + 1e-8;
      for (std::size_t i = 0; i < rows; ++i) m[i * cols + c] /= norm;
      for (std::size_t l = c + 1; l < cols; ++l) {
        double dot = 0;
        for (std::size_t i = 0; i < rows; ++i) dot += m[i * cols + c] * m[i * cols + l];
        for (std::size_t i = 0; i < rows; ++i) m[i * cols + l] -= dot * m[i * cols + c];
      }
    }
  }

  void step(int s, const topology::graph& g) {
    for (int round = 0; round < iterations; ++round) {
      const int k = s * iterations + round;
      if (s == 0) return;
      auto next = x;
      for (auto& [key, state] : edge) {
        const auto [lo, hi] = key;
        for (std::size_t t = 0; t < tensors.size(); ++t) {
          const std::size_t a = tensors[t].a, b = tensors[t].b;
          auto& [p, q] = state[t];
          const auto& xl = x[static_cast<std::size_t>(lo)][t];
          const auto& xh = x[static_cast<std::size_t>(hi)][t];
          std::vector<double> d(a * b);  // the low-rank move of the lower id toward the higher
          if (k % 2 == 1) {
            orthonormalize(q, b, static_cast<std::size_t>(rank));
            for (std::size_t i = 0; i < a; ++i)
              for (int c = 0; c < rank; ++c) {
                double acc = 0;
                for (std::size_t j = 0; j < b; ++j) acc += (xh[i * b + j] - xl[i * b + j]) * q[j * static_cast<std::size_t>(rank) + static_cast<std::size_t>(c)];
                p[i * static_cast<std::size_t>(rank) + static_cast<std::size_t>(c)] = acc;
              }
            for (std::size_t i = 0; i < a; ++i)
              for (std::size_t j = 0; j < b; ++j)
                for (int c = 0; c < rank; ++c)
                  d[i * b + j] += p[i * static_cast<std::size_t>(rank) + static_cast<std::size_t>(c)] * q[j * static_cast<std::size_t>(rank) + static_cast<std::size_t>(c)];
          } else {
            orthonormalize(p, a, static_cast<std::size_t>(rank));
            for (std::size_t j = 0; j < b; ++j)
              for (int c = 0; c < rank; ++c) {
                double acc = 0;
                for (std::size_t i = 0; i < a; ++i) acc += (xh[i * b + j] - xl[i * b + j]) * p[i * static_cast<std::size_t>(rank) + static_cast<std::size_t>(c)];
                q[j * static_cast<std::size_t>(rank) + static_cast<std::size_t>(c)] = acc;
              }
            for (std::size_t i = 0; i < a; ++i)
              for (std::size_t j = 0; j < b; ++j)
                for (int c = 0; c < rank; ++c)
                  d[i * b + j] += p[i * static_cast<std::size_t>(rank) + static_cast<std::size_t>(c)] * q[j * static_cast<std::size_t>(rank) + static_cast<std::size_t>(c)];
          }
          for (std::size_t e = 0; e < a * b; ++e) {
            next[static_cast<std::size_t>(lo)][t][e] += gamma * weight * d[e];
            next[static_cast<std::size_t>(hi)][t][e] -= gamma * weight * d[e];
          }
        }
      }
      (void)g;
      x = next;
    }
  }
};

}  // namespace

TEST_CASE("replay against an independent PowerGossip on a 4-ring with injected P/Q (5x3 and 4x2x2 tensors)") {
  const auto ring = topology::ring(4);
  const parameter_layout layout{{5, 3}, {4, 2, 2}};
  for (const auto& rank_iterations : {std::pair{1, 1}, std::pair{2, 2}}) {
    const int rank = rank_iterations.first, iterations = rank_iterations.second;  // captured below (Clang 14)
    CAPTURE(rank);
    naive_powergossip oracle{{{5, 3}, {4, 4}}, rank, iterations, 1.0, 1.0 / 3, {}, {}};
    auto injected = [&](int lo, int hi, std::size_t t, bool q_side) {  // the same draws on both endpoints
      const std::size_t rows = q_side ? oracle.tensors[t].b : oracle.tensors[t].a;
      std::vector<double> v(rows * static_cast<std::size_t>(rank));
      const random_stream s{1234, static_cast<std::uint32_t>(lo * 10 + hi), static_cast<std::uint32_t>(t * 2 + q_side)};
      for (std::size_t k = 0; k < v.size(); ++k) v[k] = s.normal(k);
      return v;
    };
    for (int i = 0; i < 4; ++i) {
      std::vector<double> x(layout.numel());
      random_start(i, x);
      oracle.x.push_back({std::vector<double>(x.begin(), x.begin() + 15), std::vector<double>(x.begin() + 15, x.end())});
    }
    for (const auto& [lo, hi] : ring.edges())
      for (std::size_t t = 0; t < 2; ++t) oracle.edge[{lo, hi}].push_back({injected(lo, hi, t, false), injected(lo, hi, t, true)});
    powergossip_options o;
    o.compression.rank = rank;
    o.compression.iterations = iterations;
    const auto xs = run_pg(ring, layout, 6, o, random_start, [&](int me, pg_t& pg) {
      for (const int peer : ring.neighbors(me))
        for (std::size_t t = 0; t < 2; ++t)
          pg.rule().compressor().inject(pg.executor(), peer, t, injected(std::min(me, peer), std::max(me, peer), t, false),
                                        injected(std::min(me, peer), std::max(me, peer), t, true));
    });
    for (int step = 0; step < 6; ++step) {
      oracle.step(step, ring);
      for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t e = 0; e < layout.numel(); ++e) {
          const double expected = e < 15 ? oracle.x[i][0][e] : oracle.x[i][1][e - 15];
          CHECK(xs[static_cast<std::size_t>(step)][i][e] == doctest::Approx(expected).epsilon(1e-12));
        }
    }
  }
}

TEST_CASE("time-varying topologies: each edge runs its own power iteration and consensus is reached") {
  for (const char* spec : {"one-peer-exponential:4", "one-peer-exponential:16"}) {
    CAPTURE(spec);
    std::vector<double> relative;
    sim::run(sim::parse_arguments({"--algorithm", "powergossip", "--topology", spec, "--shape", "6x6", "--steps",
                                   "2000", "--every", "2000", "--precision", "f64"}),
             [&](const sim::row& r) { relative.push_back(*r.relative_consensus); });
    CHECK(relative.back() < 1e-12);
  }
}

TEST_CASE("the compressor's payload accounting equals what the communicator sent") {
  const auto ring = topology::ring(4);
  const parameter_layout layout{{6, 4}, {5}, {3, 2, 2}};
  sim::cluster workers(4);
  workers.run([&](comm::inprocess c) {
    std::vector<double> x(layout.numel(), 1.0 + c.rank());
    powergossip_options o;
    o.compression.rank = 2;
    o.compression.iterations = 3;
    pg_t pg(ring, std::move(c), parameters<double>::packed(x.data(), layout), o, exec::host(1));
    for (std::int64_t step = 0; step < 4; ++step) {
      const auto before = pg.communicator().stats().bytes_sent;
      pg.mix();
      std::size_t predicted = 0;
      for (int round = 0; round < 3; ++round) predicted += 2 * pg.rule().compressor().message_bytes(step, round);
      CHECK(pg.communicator().stats().bytes_sent - before == predicted);
    }
  });
}

TEST_CASE("Xᵀ·P's host items are as wide as a thread's share of the columns, within 128 … host_product_block") {
  CHECK(detail::host_product_width(1000, 2) == 512);   // 500 rounded up to 16, within the cap
  CHECK(detail::host_product_width(1000, 1) == 512);   // capped
  CHECK(detail::host_product_width(1000, 16) == 128);  // 63: the floor
  CHECK(detail::host_product_width(600, 2) == 304);    // 300 rounded up to 16
  CHECK(detail::host_product_width(100, 0) == 128);    // threads ≤ 1 count as one
  CHECK(detail::host_product_width(0, 4) == 128);
}

TEST_CASE("the projections give the same bits in every form: host blocks and compile-time ranks, device items") {
  // X is 37×43 (lane tails, one partial block of columns), 9×300 (two full blocks of 128 columns and a partial
  // one), 6×130, 8×16 or 11×7 (by columns, 4 rows per sweep: 1, 1, 2, 0 and 3 rows left; by rows, in the rank-2
  // pairs: tails of 3, 4, 2, 0 and 7 columns), 5 or 7 bases per side (passes of 4 and 1, of 4 and 3), ranks 1 to 5
  // (5: runtime rank only), in f32 and f64 (where a change of the sums' order shows in the last bits). The host
  // form (blocks of 16, 128 or host_product_block columns, rank at compile time, two threads) must equal the device
  // form (one row or column per item, runtime rank) bit for bit, and both the sums computed here. 9×1100: two full
  // blocks of 512 columns and a partial one. By rows, items of 1, 3, host_product_rows (ranks 1, 2) and 8 rows (the
  // host's blocks of rows at ranks 1 and 2, with every remainder).
  static_assert(detail::host_product_block == 512, "the sizes below are chosen for blocks of up to 512 columns");
  auto check = [&]<class T>() {
  for (const std::pair<std::size_t, std::size_t>& size : {std::pair<std::size_t, std::size_t>{37, 43}, {9, 300}, {6, 130}, {8, 16}, {11, 7}, {9, 1100}})
  for (const int edges : {5, 7})
  for (std::size_t r = 1; r <= 5; ++r) {
    const std::size_t a = size.first, b = size.second;  // not a structured binding: Clang 14 cannot capture one
    std::vector<T> x(a * b);
    for (std::size_t k = 0; k < x.size(); ++k) x[k] = static_cast<T>(std::sin(0.37 * static_cast<double>(k)));
    const exec::host ex(2);
    for (const bool by_rows : {true, false}) {
      CAPTURE(a);
      CAPTURE(b);
      CAPTURE(edges);
      CAPTURE(r);
      CAPTURE(by_rows);
      const std::size_t basis_rows = by_rows ? b : a, out_rows = by_rows ? a : b;
      std::vector<std::vector<T>> basis(static_cast<std::size_t>(edges)), host_out(basis.size()), device_out(basis.size());
      std::vector<const T*> basis_table;
      std::vector<T*> host_table, device_table;
      for (int j = 0; j < edges; ++j) {
        auto& q = basis[static_cast<std::size_t>(j)];
        q.resize(basis_rows * r);
        for (std::size_t k = 0; k < q.size(); ++k) q[k] = static_cast<T>(std::cos(1.3 * j + 0.11 * static_cast<double>(k)));
        host_out[static_cast<std::size_t>(j)].assign(out_rows * r, T(-1));
        device_out[static_cast<std::size_t>(j)].assign(out_rows * r, T(-2));
        basis_table.push_back(q.data());
        host_table.push_back(host_out[static_cast<std::size_t>(j)].data());
        device_table.push_back(device_out[static_cast<std::size_t>(j)].data());
      }
      const detail::low_rank_project_kernel<T, 1, 0> device{x.data(), a, b, r, by_rows, basis_table.data(),
                                                                device_table.data(), edges};
      exec::host(1).for_each(device.items(), device);
      for (const std::size_t width : {std::size_t{16}, std::size_t{128}, detail::host_product_block})
        for (const std::size_t rows : {std::size_t{1}, std::size_t{3}, detail::host_product_rows<T, 1>(),
                                       detail::host_product_rows<T, 2>(), std::size_t{8}}) {
          CAPTURE(width);
          CAPTURE(rows);
          for (auto& out : host_out) std::fill(out.begin(), out.end(), T(-1));
          detail::with_rank(r, [&]<int Rank>() {
            detail::low_rank_project_kernel<T, detail::host_product_block, Rank> host{
                x.data(), a, b, r, by_rows, basis_table.data(), host_table.data(), edges};
            host.width = width;
            host.rows = rows;
            ex.for_each(host.items(), host);
          });
          CHECK(host_out == device_out);
        }
      // The documented orders, computed here in T (the tensors' type): by rows 8 lanes (k mod 8) combined as a
      // tree, by columns in row order. And against double sums, so that the f32 sums are known to be close.
      bool same = true;
      double worst = 0;
      for (int j = 0; j < edges; ++j)
        for (std::size_t o = 0; o < out_rows; ++o)
          for (std::size_t c = 0; c < r; ++c) {
            const auto& q = basis[static_cast<std::size_t>(j)];
            T expected = 0;
            double exact = 0, magnitude = 0;
            if (by_rows) {
              T lane[8] = {};
              for (std::size_t k = 0; k < b; ++k) {
                lane[k % 8] += x[o * b + k] * q[k * r + c];
                exact += static_cast<double>(x[o * b + k]) * static_cast<double>(q[k * r + c]);
                magnitude += std::abs(static_cast<double>(x[o * b + k]) * static_cast<double>(q[k * r + c]));
              }
              expected = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
            } else {
              for (std::size_t i = 0; i < a; ++i) {
                expected += x[i * b + o] * q[i * r + c];
                exact += static_cast<double>(x[i * b + o]) * static_cast<double>(q[i * r + c]);
                magnitude += std::abs(static_cast<double>(x[i * b + o]) * static_cast<double>(q[i * r + c]));
              }
            }
            const T got = host_out[static_cast<std::size_t>(j)][o * r + c];
            same = same && got == expected;
            if (magnitude > 0) worst = std::max(worst, std::abs(static_cast<double>(got) - exact) / magnitude);
          }
      CHECK(same);
      // Relative to Σ|terms|: a sum of n terms in T errs by at most about n·ε(T) of it (n ≤ 300 here).
      CHECK(worst < 300 * static_cast<double>(std::numeric_limits<T>::epsilon()));
    }
  }
  };
  check.template operator()<float>();
  check.template operator()<double>();
}

TEST_CASE("row products: the host's vector lanes give the bits of the devices' scalar lanes, every tail and stride") {
  // strided_dot runs host_lane_sums on the host (16-byte vectors) and lane_sums on devices (eight scalars): the
  // same sums lane by lane. Lengths 0 to 40 and 1000 to 1007 (every tail of 0 to 7 terms), strides 1 to 3,
  // compile-time and run-time, f32 and f64; and the two-vector form (strided_dot2) equals two single ones.
  auto check = [&]<class T>() {
    std::vector<T> x(1007), q(3 * 1007), u(3 * 1007);
    for (std::size_t k = 0; k < x.size(); ++k) x[k] = static_cast<T>(std::sin(0.7 * static_cast<double>(k)));
    for (std::size_t k = 0; k < q.size(); ++k) {
      q[k] = static_cast<T>(std::cos(0.3 * static_cast<double>(k)));
      u[k] = static_cast<T>(std::sin(1.9 + 0.41 * static_cast<double>(k)));
    }
    std::vector<std::size_t> lengths;
    for (std::size_t n = 0; n <= 40; ++n) lengths.push_back(n);
    for (std::size_t n = 1000; n <= 1007; ++n) lengths.push_back(n);
    int differ = 0;
    for (const std::size_t n : lengths)
      for (std::size_t stride = 1; stride <= 3; ++stride) {
        detail::lane_sums<T> lanes;  // the device form, run here on one thread
        std::size_t k = 0;
        for (; k + 8 <= n; k += 8) lanes.add8(x.data() + k, q.data() + k * stride, stride);
        lanes.add_tail(x.data() + k, q.data() + k * stride, stride, n - k);
        const T device = lanes.total();
        const T runtime = detail::strided_dot<0>(x.data(), q.data(), n, stride);
        const T fixed = stride == 1   ? detail::strided_dot<1>(x.data(), q.data(), n, stride)
                        : stride == 2 ? detail::strided_dot<2>(x.data(), q.data(), n, stride)
                                      : detail::strided_dot<3>(x.data(), q.data(), n, stride);
        T pair_q = -1, pair_u = -1;
        detail::strided_dot2<0>(x.data(), q.data(), u.data(), n, stride, pair_q, pair_u);
        const T single_u = detail::strided_dot<0>(x.data(), u.data(), n, stride);
        if (device != runtime || device != fixed || pair_q != device || pair_u != single_u) ++differ;
      }
    CHECK(differ == 0);
    // And the lanes are the documented ones: lane l takes the terms k ≡ l (mod 8), combined as a tree.
    T lane[8] = {};
    for (std::size_t k = 0; k < 1003; ++k) lane[k % 8] += x[k] * q[2 * k];
    CHECK(detail::strided_dot<0>(x.data(), q.data(), 1003, 2) ==
          ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7])));
  };
  check.template operator()<float>();
  check.template operator()<double>();
}

#if defined(DECENT_HOST_ROW_BLOCKS)
namespace {
/// A matrix X (a×b, sin values), `edges` bases (basis_rows×rank, cos values) and two output tables per basis
/// (out_rows×rank): `want` filled with −1, `got` with −2; with the pointer tables the kernels take.
template <class T>
struct product_tables {
  std::vector<T> x;
  std::vector<std::vector<T>> basis, want, got;
  std::vector<const T*> bases;
  std::vector<T*> wants, gots;
  product_tables(std::size_t a, std::size_t b, std::size_t edges, std::size_t basis_rows, std::size_t out_rows,
                 std::size_t rank)
      : x(a * b), basis(edges, std::vector<T>(basis_rows * rank)), want(edges), got(edges) {
    for (std::size_t k = 0; k < x.size(); ++k) x[k] = static_cast<T>(std::sin(0.37 * static_cast<double>(k)));
    for (std::size_t j = 0; j < edges; ++j) {
      for (std::size_t k = 0; k < basis[j].size(); ++k)
        basis[j][k] = static_cast<T>(std::cos(1.3 * static_cast<double>(j) + 0.11 * static_cast<double>(k)));
      want[j].assign(out_rows * rank, T(-1));
      got[j].assign(out_rows * rank, T(-2));
      bases.push_back(basis[j].data());
      wants.push_back(want[j].data());
      gots.push_back(got[j].data());
    }
  }
};
}  // namespace

TEST_CASE("X·Q's host row blocks give one row's bits in every vector code: SSE2, AVX2, AVX-512 and the AVX2 copy") {
  // host_rows_blocks in each host_simd (compiled here for this build's ISA: the lanes are the same whatever
  // instructions hold them), and the portable build's AVX2 copy where this CPU runs it, against
  // times_bases_row_fixed row by row (strided_dot's lanes). 1 to 5 bases (pairs and a single), ranks 1 and 2,
  // 1 to 19 rows from row 0 and from row 3 (every remainder of blocks of 1, 2, 4 and 8), 7, 16 and 301 columns
  // (tails of 7, 0 and 5), f32 and f64.
  auto check = [&]<class T, int Rank>() {
    constexpr std::size_t a = 22, rank = Rank;
    for (const std::size_t b : {std::size_t{7}, std::size_t{16}, std::size_t{301}}) {
      product_tables<T> t(a, b, 5, b, a, rank);
      for (int bases = 1; bases <= 5; ++bases)
        for (std::size_t i = 0; i < a; ++i) detail::times_bases_row_fixed<Rank>(t.x.data(), b, t.bases.data(), t.wants.data(), bases, i);
      int differ = 0, runs = 0;
      auto compare = [&](auto&& blocks) {
        for (int bases = 1; bases <= 5; ++bases)
          for (const std::size_t i0 : {std::size_t{0}, std::size_t{3}})
            for (std::size_t count = 1; i0 + count <= a && count <= 19; ++count) {
              for (auto& g : t.got) std::fill(g.begin(), g.end(), T(-2));
              blocks(bases, i0, count);
              ++runs;
              for (int j = 0; j < bases; ++j)
                for (std::size_t o = i0 * rank; o < (i0 + count) * rank; ++o)
                  if (std::memcmp(&t.got[static_cast<std::size_t>(j)][o], &t.want[static_cast<std::size_t>(j)][o], sizeof(T)) != 0) ++differ;
            }
      };
      compare([&](int bases, std::size_t i0, std::size_t count) {
        detail::host_rows_blocks<detail::host_simd{16, 16}, Rank>(t.x.data(), b, t.bases.data(), t.gots.data(), bases, i0, count);
      });
      compare([&](int bases, std::size_t i0, std::size_t count) {
        detail::host_rows_blocks<detail::host_simd{32, 16}, Rank>(t.x.data(), b, t.bases.data(), t.gots.data(), bases, i0, count);
      });
      compare([&](int bases, std::size_t i0, std::size_t count) {
        detail::host_rows_blocks<detail::host_simd{32, 32}, Rank>(t.x.data(), b, t.bases.data(), t.gots.data(), bases, i0, count);
      });
      compare([&](int bases, std::size_t i0, std::size_t count) {  // whatever this host runs
        detail::times_bases_rows_fixed<Rank>(t.x.data(), b, t.bases.data(), t.gots.data(), bases, i0, count);
      });
#if defined(DECENT_HOST_AVX2_COPY)
      if (detail::host_avx2_copy_runs())
        compare([&](int bases, std::size_t i0, std::size_t count) {
          detail::host_rows_blocks_avx2<Rank>(t.x.data(), b, t.bases.data(), t.gots.data(), bases, i0, count);
        });
      else
        MESSAGE("this CPU has no AVX2: the AVX2 copy of the row blocks is not run");
#endif
      CAPTURE(b);
      CHECK(runs > 0);
      CHECK(differ == 0);
    }
  };
  check.template operator()<float, 1>();
  check.template operator()<float, 2>();
  check.template operator()<double, 1>();
  check.template operator()<double, 2>();
}
#endif

#if defined(DECENT_HOST_ROW_BLOCKS)
TEST_CASE("Xᵀ·P's host column strips give the columns' bits in every vector code: SSE2, AVX2, AVX-512, AVX2 copy") {
  // host_columns_blocks in each host_simd and the portable build's AVX2 copy (where this CPU runs it) against
  // transposed_times_bases_columns (the sums over the rows in order): passes of 1 to 4 bases, ranks 1 to 3,
  // 1, 15, 16, 17 and 37 rows (tiles of 16: none whole, one, one and a row, two and 5), 200 columns taken from
  // column 3 in blocks of 1, 7, 64 and 197 (no whole strip, strips and a remainder), f32 and f64.
  auto check = [&]<class T, int Rank>() {
    constexpr std::size_t b = 200, rank = Rank;
    for (const std::size_t a : {std::size_t{1}, std::size_t{15}, std::size_t{16}, std::size_t{17}, std::size_t{37}}) {
      product_tables<T> t(a, b, 4, a, b, rank);
      int differ = 0, runs = 0;
      auto compare = [&]<std::size_t Pass>(auto&& blocks) {
        for (const std::size_t count : {std::size_t{1}, std::size_t{7}, std::size_t{64}, std::size_t{197}}) {
          for (auto& w : t.want) std::fill(w.begin(), w.end(), T(-1));
          for (auto& g : t.got) std::fill(g.begin(), g.end(), T(-2));
          detail::transposed_times_bases_columns<512, Rank, Pass>(t.x.data(), a, b, t.bases.data(), t.wants.data(), 3, count);
          blocks(count);
          ++runs;
          for (std::size_t j = 0; j < Pass; ++j)  // columns 3 … 3 + count − 1 written, the others left alone
            for (std::size_t o = 0; o < b * rank; ++o) {
              const bool written = o >= 3 * rank && o < (3 + count) * rank;
              const T expected = written ? t.want[j][o] : T(-2);
              if (std::memcmp(&t.got[j][o], &expected, sizeof(T)) != 0) ++differ;
            }
        }
      };
      auto passes = [&]<std::size_t Pass>() {
        compare.template operator()<Pass>([&](std::size_t count) {
          detail::host_columns_blocks<detail::host_simd{16, 16}, 512, Rank, Pass>(t.x.data(), a, b, t.bases.data(), t.gots.data(), 3, count);
        });
        compare.template operator()<Pass>([&](std::size_t count) {
          detail::host_columns_blocks<detail::host_simd{32, 16}, 512, Rank, Pass>(t.x.data(), a, b, t.bases.data(), t.gots.data(), 3, count);
        });
        compare.template operator()<Pass>([&](std::size_t count) {
          detail::host_columns_blocks<detail::host_simd{32, 32}, 512, Rank, Pass>(t.x.data(), a, b, t.bases.data(), t.gots.data(), 3, count);
        });
        compare.template operator()<Pass>([&](std::size_t count) {  // whatever this host runs
          detail::transposed_times_bases_block<512, Rank, Pass>(t.x.data(), a, b, t.bases.data(), t.gots.data(), 3, count);
        });
#if defined(DECENT_HOST_AVX2_COPY)
        if (detail::host_avx2_copy_runs())
          compare.template operator()<Pass>([&](std::size_t count) {
            detail::host_columns_blocks_avx2<512, Rank, Pass>(t.x.data(), a, b, t.bases.data(), t.gots.data(), 3, count);
          });
#endif
      };
      passes.template operator()<1>();
      passes.template operator()<2>();
      passes.template operator()<3>();
      passes.template operator()<4>();
      CAPTURE(a);
      CHECK(runs > 0);
      CHECK(differ == 0);
    }
  };
  check.template operator()<float, 1>();
  check.template operator()<float, 2>();
  check.template operator()<float, 3>();
  check.template operator()<double, 1>();
  check.template operator()<double, 2>();
  check.template operator()<double, 3>();
}
#endif

TEST_CASE("message differences: peer − own in T, and the next basis the old kernel formed, to the bit") {
  // message_difference_kernel writes d = T(double(peer) − double(own)) over the peer's message and next =
  // T(sign·d). The terms used to compute peer − own in T, and the next basis was difference_kernel's
  // T(sign·(double(peer) − double(own))): both must come out bit for bit, for values over a wide range of
  // exponents (where the rounding of the difference matters), in f32 and f64, for both signs.
  auto check = [&]<class T>() {
    std::mt19937_64 draw(7);
    std::uniform_real_distribution<double> mantissa(-1.0, 1.0);
    std::uniform_int_distribution<int> exponent(-30, 30);
    const std::size_t n = 20000;
    std::vector<T> own(n), peer(n), want_d(n);
    for (std::size_t i = 0; i < n; ++i) {
      own[i] = static_cast<T>(std::ldexp(mantissa(draw), exponent(draw)));
      // Every fourth peer near its own value (cancellation), the others anywhere.
      peer[i] = i % 4 == 0 ? static_cast<T>(static_cast<double>(own[i]) * (1.0 + 1e-3 * mantissa(draw)))
                           : static_cast<T>(std::ldexp(mantissa(draw), exponent(draw)));
      want_d[i] = peer[i] - own[i];
    }
    for (const double sign : {1.0, -1.0}) {
      std::vector<T> d = peer, next(n, T(7)), old(n, T(9));
      exec::host(2).for_each(n, detail::message_difference_kernel<T>{d.data(), own.data(), next.data(), sign});
      exec::host(1).for_each(n, detail::difference_kernel<T>{old.data(), own.data(), peer.data(), sign});
      CHECK(std::memcmp(d.data(), want_d.data(), n * sizeof(T)) == 0);
      CHECK(std::memcmp(next.data(), old.data(), n * sizeof(T)) == 0);
      int cancelled = 0;
      for (std::size_t i = 0; i < n; ++i) cancelled += d[i] != T(0) && std::abs(d[i]) < std::abs(own[i]) * T(1e-2);
      CHECK(cancelled > 1000);  // the near pairs are there
    }
  };
  check.template operator()<float>();
  check.template operator()<double>();
}

TEST_CASE("the host's row update gives the element form's bits for 1 to 6 edges, both sides, ranks 1 and 3") {
  // add_differences_rows_kernel sums 1-4 edges of a column in one loop (fused_row) and 5 or more in chunks of
  // 512 columns; both must write exactly what add_differences_kernel (the device's element form) writes, from the
  // interleaved tables and from planar copies of what the rows read along k (planar_copy_kernel, as
  // compress::low_rank's decode makes them on the host at rank 2 or more; at rank 1 the copy is the table). X is 7×1100 (chunks of 512 with a tail), in f32 and f64.
  auto check = [&]<class T>() {
    const std::size_t a = 7, b = 1100;
    for (const std::size_t r : {std::size_t{1}, std::size_t{3}})
      for (const bool by_rows : {true, false})
        for (int edges = 1; edges <= 6; ++edges) {
          CAPTURE(r);
          CAPTURE(by_rows);
          CAPTURE(edges);
          const std::size_t message_rows = by_rows ? a : b, basis_rows = by_rows ? b : a;
          std::vector<std::vector<T>> basis, difference;
          std::vector<const T*> basis_table, difference_table;
          std::vector<double> coef;
          for (int j = 0; j < edges; ++j) {
            auto fill = [&](std::vector<std::vector<T>>& list, std::size_t rows, double phase) {
              list.emplace_back(rows * r);
              for (std::size_t k = 0; k < rows * r; ++k)
                list.back()[k] = static_cast<T>(std::sin(phase + 0.7 * static_cast<double>(j) + 0.29 * static_cast<double>(k)));
            };
            fill(basis, basis_rows, 0.1);
            fill(difference, message_rows, 1.1);
            coef.push_back(0.05 + 0.1 * static_cast<double>(j));
          }
          for (int j = 0; j < edges; ++j) {
            basis_table.push_back(basis[static_cast<std::size_t>(j)].data());
            difference_table.push_back(difference[static_cast<std::size_t>(j)].data());
          }
          std::vector<std::vector<T>> planar;
          std::vector<const T*> planar_table;
          for (int j = 0; j < edges; ++j) {
            const auto& along = by_rows ? basis[static_cast<std::size_t>(j)] : difference[static_cast<std::size_t>(j)];
            planar.emplace_back(b * r);
            exec::host(2).for_each(b * r, detail::planar_copy_kernel<T>{along.data(), planar.back().data(), b, r});
            int misplaced = 0;  // the layout, checked by hand
            for (std::size_t k = 0; k < b; ++k)
              for (std::size_t c = 0; c < r; ++c) misplaced += planar.back()[c * b + k] != along[k * r + c];
            CHECK(misplaced == 0);
            planar_table.push_back(planar.back().data());
          }
          std::vector<T> rows_x(a * b), element_x(a * b), planar_x(a * b);
          for (std::size_t k = 0; k < a * b; ++k)
            rows_x[k] = element_x[k] = planar_x[k] = static_cast<T>(std::cos(0.013 * static_cast<double>(k)));
          detail::with_rank(r, [&]<int Rank>() {
            if constexpr (Rank > 0) {
              using terms = detail::low_rank_terms<T, Rank>;
              const terms t{b, r, by_rows, basis_table.data(), difference_table.data()};
              exec::host(2).for_each(a, detail::add_differences_rows_kernel<T, terms>{rows_x.data(), t, coef.data(), edges, b});
              exec::host(1).for_each(a * b, detail::add_differences_kernel<T, terms>{element_x.data(), t, coef.data(), edges});
              terms from_planar = t;
              from_planar.planar = planar_table.data();
              exec::host(2).for_each(
                  a, detail::add_differences_rows_kernel<T, terms>{planar_x.data(), from_planar, coef.data(), edges, b});
            }
          });
          CHECK(std::memcmp(rows_x.data(), element_x.data(), rows_x.size() * sizeof(T)) == 0);
          CHECK(std::memcmp(planar_x.data(), element_x.data(), planar_x.size() * sizeof(T)) == 0);
          CHECK(rows_x[0] != static_cast<T>(1));  // the update did something
        }
  };
  check.template operator()<float>();
  check.template operator()<double>();
}

TEST_CASE("one-pass orthonormalisation: the bits of column-by-column Gram-Schmidt on the host executor's sums") {
  // orthonormalize_bases_kernel (every basis of a group in one launch, its sums on one thread) against modified
  // Gram-Schmidt written here with exec::host::sum and element loops, as the compressor ran it before: the same
  // bits, for bases of 5, 1000 and 9000 rows (9000: three reduction blocks of 4096), ranks 1 and 3. The result is
  // orthonormal, and a zero column stays zero (epsilon), never NaN. In f32 and f64 (where a change of the sums'
  // order shows in the last bits).
  const exec::host ex(2);
  auto check = [&]<class T>() {
  for (const std::size_t rows : {std::size_t{5}, std::size_t{1000}, std::size_t{9000}})
    for (const std::size_t cols : {std::size_t{1}, std::size_t{3}}) {
      CAPTURE(rows);
      CAPTURE(cols);
      const double epsilon = 1e-8;
      // Uniform values in [−½, ½) from a fixed generator (a sine of k would make the columns linearly dependent).
      std::mt19937 draw(static_cast<std::uint32_t>(rows * 7 + cols));
      std::vector<std::vector<T>> bases(3, std::vector<T>(rows * cols));
      for (auto& m : bases)
        for (T& v : m) v = static_cast<T>(static_cast<double>(draw()) / 4294967296.0 - 0.5);
      if (cols == 3)
        for (std::size_t i = 0; i < rows; ++i) bases[2][i * cols + 1] = T(0);  // a zero column
      auto expected = bases;
      for (auto& m : expected)
        for (std::size_t c = 0; c < cols; ++c) {
          const double norm = std::sqrt(ex.sum(rows, [&](std::size_t i) {
            return static_cast<double>(m[i * cols + c]) * static_cast<double>(m[i * cols + c]);
          }));
          const double f = 1.0 / (norm + epsilon);
          for (std::size_t i = 0; i < rows; ++i)
            m[i * cols + c] = static_cast<T>(f * static_cast<double>(m[i * cols + c]) + 0.0 * static_cast<double>(m[i * cols + c]));
          for (std::size_t later = c + 1; later < cols; ++later) {
            const double projection = ex.sum(rows, [&](std::size_t i) {
              return static_cast<double>(m[i * cols + c]) * static_cast<double>(m[i * cols + later]);
            });
            for (std::size_t i = 0; i < rows; ++i)
              m[i * cols + later] = static_cast<T>(1.0 * static_cast<double>(m[i * cols + later]) -
                                                   projection * static_cast<double>(m[i * cols + c]));
          }
        }
      std::vector<T*> table;
      for (auto& m : bases) table.push_back(m.data());
      ex.for_each(table.size(), detail::orthonormalize_bases_kernel<T>{table.data(), rows, cols, epsilon});
      CHECK(bases == expected);
      for (std::size_t j = 0; j < bases.size(); ++j)
        for (std::size_t c1 = 0; c1 < cols; ++c1)
          for (std::size_t c2 = 0; c2 < cols; ++c2) {
            double dot = 0;
            for (std::size_t i = 0; i < rows; ++i)
              dot += static_cast<double>(bases[j][i * cols + c1]) * static_cast<double>(bases[j][i * cols + c2]);
            const bool zero = j == 2 && cols == 3 && (c1 == 1 || c2 == 1);
            CHECK(dot == doctest::Approx(zero ? 0.0 : (c1 == c2 ? 1.0 : 0.0)).epsilon(1e-5).scale(1.0));
          }
    }
  };
  check.template operator()<float>();
  check.template operator()<double>();
}
