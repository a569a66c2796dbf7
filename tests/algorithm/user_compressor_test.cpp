// An edge compressor written by a user, against the concept only: it sends the leading half of the parameters
// and decodes the differences there; the gossip rule applies the update. One gossip round must then be the
// gossip matrix on the leading half and leave the rest alone — computed independently below.
#include <doctest/doctest.h>

#include <cmath>
#include <span>
#include <vector>

#include <decent/algorithm/mixer.hpp>
#include <decent/comm/inprocess.hpp>
#include <decent/compress/compressor.hpp>
#include <decent/mixing/gossip.hpp>
#include <decent/sim/cluster.hpp>
#include <decent/topology/topologies.hpp>

using namespace decent;

namespace {

/// D̂_j(e) = peer_j[e] − sent[e]: what the leading half decodes to.
struct half_terms {
  const double* const* peer;
  const double* sent;
  double operator()(int j, std::size_t e) const { return peer[j][e] - sent[e]; }
};

/// C(x) = the first ⌈n/2⌉ values of x, zero elsewhere (linear). Packed parameters, host memory.
class leading_half {
 public:
  using compressor_concept = compress::compressor_tag;
  using value_type = double;
  using executor_type = exec::host;
  struct options {};
  static constexpr bool is_linear = true;
  static constexpr bool stateless = true;

  template <class Context>
  leading_half(const Context&, const parameters<double>& params, options)
      : x_(params[0].data), half_((params.numel() + 1) / 2), sent_(half_) {}

  int rounds(std::int64_t) const { return 1; }

  template <class Context>
  void encode(const Context&, std::span<const int> peers, comm::exchange_plan<double>& plan) {
    sent_.assign(x_, x_ + half_);  // what travels is a copy: the rule changes x while messages are read
    received_.resize(peers.size(), std::vector<double>(half_));
    for (std::size_t j = 0; j < peers.size(); ++j) {
      plan.sends.push_back({peers[j], sent_.data(), half_ * sizeof(double), 0});
      plan.recvs.push_back({peers[j], received_[j].data(), half_ * sizeof(double), 0});
    }
  }

  template <class Context, class Visit>
  void decode(const Context&, std::span<const int> peers, Visit&& visit) {
    slots_.clear();
    inputs_.clear();
    for (std::size_t j = 0; j < peers.size(); ++j) {
      slots_.push_back(static_cast<int>(j));
      inputs_.push_back(received_[j].data());
    }
    visit(compress::decoded_differences<double, half_terms>{x_, half_, slots_, {inputs_.data(), sent_.data()}});
  }

 private:
  double* x_;
  std::size_t half_;
  std::vector<double> sent_;
  std::vector<std::vector<double>> received_;
  std::vector<int> slots_;
  std::vector<const double*> inputs_;
};
static_assert(compress::edge_compressor<leading_half>);

using half_gossip = mixer<topology::graph, comm::inprocess, mixing::gossip<exec::host, double, leading_half>>;

}  // namespace

TEST_CASE("a user's edge compressor: gossip through it mixes exactly what it sends, and nothing else") {
  const int n = 6;
  const std::size_t d = 11, half = 6;
  const topology::graph ring = topology::ring(n);
  std::vector<std::vector<double>> x(n, std::vector<double>(d));
  for (int i = 0; i < n; ++i)
    for (std::size_t k = 0; k < d; ++k) x[static_cast<std::size_t>(i)][k] = std::sin(1.0 + 3.0 * i + 0.7 * static_cast<double>(k));
  const auto start = x;
  const double gamma = 0.8;
  sim::cluster workers(n);
  workers.run([&](comm::inprocess c) {
    std::vector<double>& mine = x[static_cast<std::size_t>(c.rank())];
    gossip_options o;
    o.gamma = gamma;
    half_gossip algo(ring, std::move(c), parameters<double>::packed(mine.data(), parameter_layout{{d}}), o,
                     exec::host(1));
    algo.mix();
  });
  // Independently: on a ring every weight is 1/3; x_i ← x_i + γ/3·(x_{i−1} + x_{i+1} − 2x_i) on the leading half.
  for (int i = 0; i < n; ++i) {
    const auto& before = start[static_cast<std::size_t>(i)];
    const auto& left = start[static_cast<std::size_t>((i + n - 1) % n)];
    const auto& right = start[static_cast<std::size_t>((i + 1) % n)];
    for (std::size_t k = 0; k < d; ++k) {
      CAPTURE(i);
      CAPTURE(k);
      const double expected =
          k < half ? before[k] + gamma / 3.0 * ((left[k] - before[k]) + (right[k] - before[k])) : before[k];
      CHECK(x[static_cast<std::size_t>(i)][k] == doctest::Approx(expected).epsilon(1e-14));
    }
  }
  // The mean of every coordinate is preserved (both ends of an edge move by opposite amounts).
  for (std::size_t k = 0; k < d; ++k) {
    double before = 0, after = 0;
    for (int i = 0; i < n; ++i) {
      before += start[static_cast<std::size_t>(i)][k];
      after += x[static_cast<std::size_t>(i)][k];
    }
    CHECK(after == doctest::Approx(before).epsilon(1e-14));
  }
}
