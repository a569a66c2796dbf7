#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <string>
#include <optional>
#include <thread>
#include <vector>

#include <decent/algorithm/allreduce.hpp>
#include <decent/algorithm/choco.hpp>
#include <decent/algorithm/d2.hpp>
#include <decent/algorithm/gossip.hpp>
#include <decent/algorithm/gradient_tracking.hpp>
#include <decent/algorithm/powergossip.hpp>
#include <decent/algorithm/relaysgd.hpp>
#include <decent/algorithm/sgp.hpp>
#include <decent/comm/inprocess.hpp>
#include <decent/compress/sign.hpp>
#include <decent/compress/top_k.hpp>
#include <decent/sim/cluster.hpp>
#include <decent/topology/any_topology.hpp>
#include <decent/topology/spec.hpp>
#include <decent/topology/topologies.hpp>

using namespace decent;

namespace {

const parameter_layout layout{{6, 5}, {4}, {3, 2, 2}};
constexpr int workers = 8;

/// `content` (a checkpoint without its checksum) and `extra` bytes, sealed with a valid checksum.
std::vector<std::byte> resealed(std::vector<std::byte> content, std::optional<std::byte> extra = {}) {
  if (extra) content.push_back(*extra);
  const std::uint64_t sum = checkpoint_checksum(content);
  const auto* p = reinterpret_cast<const std::byte*>(&sum);
  content.insert(content.end(), p, p + sizeof sum);
  return content;
}

/// One worker's part of a run: its parameters and its algorithm's checkpoint.
struct saved {
  std::vector<double> x;
  std::vector<std::byte> state;
};

/// Runs steps [from, to) of every worker — a local SGD step on f_i(x) = ½‖x − b_i‖² (b_i[k] = cos(2i + k)), then
/// mix — starting from `start` (x⁰_i[k] = sin(1 + 3i + 0.7k) when empty), loading the checkpoints first when
/// given; returns every worker's parameters and a checkpoint taken at the end.
template <class Make>
std::vector<saved> run(Make make, int from, int to, const std::vector<saved>& start = {}) {
  std::vector<saved> out(workers);
  sim::cluster(workers).run([&](comm::inprocess c) {
    const int rank = c.rank();
    std::vector<double>& x = out[static_cast<std::size_t>(rank)].x;
    if (start.empty()) {
      x.resize(layout.numel());
      for (std::size_t k = 0; k < x.size(); ++k) x[k] = std::sin(1.0 + 3.0 * rank + 0.7 * static_cast<double>(k));
    } else {
      x = start[static_cast<std::size_t>(rank)].x;
    }
    auto algo = make(std::move(c), parameters<double>::packed(x.data(), layout));
    if (!start.empty() && !start[static_cast<std::size_t>(rank)].state.empty())
      algo.load(start[static_cast<std::size_t>(rank)].state);
    for (int t = from; t < to; ++t) {
      for (std::size_t k = 0; k < x.size(); ++k) x[k] -= 0.1 * (x[k] - std::cos(2.0 * rank + static_cast<double>(k)));
      algo.mix();
    }
    out[static_cast<std::size_t>(rank)].state = algo.save();
  });
  return out;
}

/// Save at step k, load into freshly built workers, continue to 2k: the same bits as never stopping. For an
/// algorithm with state, continuing from the parameters alone (no checkpoint) differs — the test can fail.
template <class Make>
void check_resume(Make make, int k, bool stateful = true) {
  const auto straight = run(make, 0, 2 * k);
  const auto first = run(make, 0, k);
  const auto resumed = run(make, k, 2 * k, first);
  for (int i = 0; i < workers; ++i) {
    CHECK(resumed[static_cast<std::size_t>(i)].x == straight[static_cast<std::size_t>(i)].x);
    CHECK(resumed[static_cast<std::size_t>(i)].state == straight[static_cast<std::size_t>(i)].state);
  }
  std::vector<saved> parameters_only = first;
  for (auto& s : parameters_only) s.state.clear();
  const auto restarted = run(make, k, 2 * k, parameters_only);
  CHECK((restarted.front().x != straight.front().x) == stateful);
}

}  // namespace

TEST_CASE("checkpoints: save at step k, load, continue to 2k equals never stopping, for every algorithm") {
  const topology::graph ring = topology::ring(workers);
  SUBCASE("allreduce") {
    check_resume([](comm::inprocess c, parameters<double> p) {
      return allreduce<comm::inprocess, exec::host, double>(std::move(c), p, {}, exec::host(1));
    }, 5, false);
  }
  SUBCASE("gossip: static, and time-varying (the step is part of the state)") {
    check_resume([&](comm::inprocess c, parameters<double> p) {
      return gossip<topology::graph, comm::inprocess, exec::host, double>(ring, std::move(c), p, {}, exec::host(1));
    }, 7, false);
    const topology::any_topology topo = topology::parse("one-peer-exponential:8");
    check_resume([&](comm::inprocess c, parameters<double> p) {
      return gossip<topology::any_topology, comm::inprocess, exec::host, double>(topo, std::move(c), p, {},
                                                                                 exec::host(1));
    }, 5);
  }
  SUBCASE("relaysgd: model, grad, overlap and drops") {
    const topology::graph tree = topology::binary_tree(workers);
    for (const relay_variant variant : {relay_variant::model, relay_variant::grad}) {
      relaysum_options o;
      o.variant = variant;
      o.overlap = variant == relay_variant::grad;
      o.drop_probability = 0.2;
      o.drop_seed = 9;
      o.update_reference = variant == relay_variant::model;  // x⁽⁰⁾ then changes every step: part of the state
      o.check_common_start = false;  // the workers start apart here
      check_resume([&](comm::inprocess c, parameters<double> p) {
        return relaysgd<topology::graph, comm::inprocess, exec::host, double>(tree, std::move(c), p, o, exec::host(1));
      }, 6);
    }
  }
  SUBCASE("powergossip: warm and cold start, two power iterations") {
    for (const bool warm : {true, false}) {
      powergossip_options o;
      o.compression.rank = 2;
      o.compression.iterations = 2;
      o.compression.warm_start = warm;
      check_resume([&](comm::inprocess c, parameters<double> p) {
        return powergossip<topology::graph, comm::inprocess, exec::host, double>(ring, std::move(c), p, o,
                                                                                 exec::host(1));
      }, 6);
    }
  }
  SUBCASE("d2, gradient tracking, sgp and gossip with quasi-global momentum") {
    check_resume([&](comm::inprocess c, parameters<double> p) {
      return d2<topology::graph, comm::inprocess, exec::host, double>(ring, std::move(c), p, {0.5}, exec::host(1));
    }, 6);
    check_resume([&](comm::inprocess c, parameters<double> p) {
      return gradient_tracking<topology::graph, comm::inprocess, exec::host, double>(ring, std::move(c), p, {},
                                                                                    exec::host(1));
    }, 6);
    // Stateless, but the step picks the shifts (2 exchanges per step, 3 shifts on 8 workers: a restart at step 0
    // would use other ones).
    check_resume([&](comm::inprocess c, parameters<double> p) {
      return sgp<comm::inprocess, exec::host, double>(std::move(c), p, {}, exec::host(1));
    }, 5);
    quasi_global_options<gossip_options> qgm;
    qgm.momentum = 0.8;
    check_resume([&](comm::inprocess c, parameters<double> p) {
      return quasi_global_gossip<topology::graph, comm::inprocess, exec::host, double>(ring, std::move(c), p, qgm,
                                                                                      exec::host(1));
    }, 6);
  }
  SUBCASE("choco with sign and with top-k") {
    choco_options<compress::sign<exec::host, double>::options> sign_options;
    sign_options.gamma = 0.3;
    check_resume([&](comm::inprocess c, parameters<double> p) {
      return choco<topology::graph, comm::inprocess, compress::sign<exec::host, double>>(ring, std::move(c), p,
                                                                                      sign_options, exec::host(1));
    }, 6);
    choco_options<compress::top_k_options> top_options;
    top_options.gamma = 0.2;
    top_options.compression.fraction = 0.3;
    check_resume([&](comm::inprocess c, parameters<double> p) {
      return choco<topology::graph, comm::inprocess, compress::top_k<exec::host, double>>(ring, std::move(c), p,
                                                                                       top_options, exec::host(1));
    }, 6);
  }
}

TEST_CASE("checkpoints: loading into an algorithm built differently, or truncated bytes, is a clear error") {
  std::vector<double> x(layout.numel(), 1.0);
  comm::inprocess_world world(workers);
  const topology::graph ring = topology::ring(workers);
  using gossip_t = gossip<topology::graph, comm::inprocess, exec::host, double>;
  gossip_t g(ring, comm::inprocess(world, 0), parameters<double>::packed(x.data(), layout), {}, exec::host(1));
  const std::vector<std::byte> bytes = g.save();
  gossip_options other;
  other.gamma = 0.5;
  gossip_t different(ring, comm::inprocess(world, 1), parameters<double>::packed(x.data(), layout), other,
                     exec::host(1));
  CHECK_THROWS_WITH_AS(different.load(bytes), doctest::Contains("saved with another algorithm or options"),
                       invalid_argument);
  gossip_t chain(topology::chain(workers), comm::inprocess(world, 2), parameters<double>::packed(x.data(), layout),
                 {}, exec::host(1));
  CHECK_THROWS_WITH_AS(chain.load(bytes), doctest::Contains("saved with another topology"), invalid_argument);
  relaysgd<topology::graph, comm::inprocess, exec::host, double> relay(
      topology::chain(workers), comm::inprocess(world, 3), parameters<double>::packed(x.data(), layout), {},
      exec::host(1));
  CHECK_THROWS_AS(relay.load(bytes), invalid_argument);
  CHECK_THROWS_WITH_AS(g.load(std::span(bytes).first(bytes.size() - 3)),
                       doctest::Contains("the checkpoint is corrupt or truncated"), invalid_argument);
  std::vector<std::byte> longer = bytes;
  longer.push_back(std::byte{0});
  CHECK_THROWS_WITH_AS(g.load(longer), doctest::Contains("the checkpoint is corrupt or truncated"), invalid_argument);
  // Extra bytes with a valid checksum (a writer that wrote more): still refused.
  longer = resealed(std::vector<std::byte>(bytes.begin(), bytes.end() - 8), std::byte{0});
  CHECK_THROWS_WITH_AS(g.load(longer), doctest::Contains("1 bytes more"), invalid_argument);
  CHECK_THROWS_WITH_AS(g.load(std::vector<std::byte>(8)), doctest::Contains("not a decent checkpoint"),
                       invalid_argument);
  g.load(bytes);  // its own checkpoint loads
  // A failed load leaves the state as it was: a checkpoint of step 5 (the step follows the 36-byte header), cut
  // short, does not move the step.
  std::vector<std::byte> step5 = bytes;
  const std::int64_t five = 5;
  std::memcpy(step5.data() + 36, &five, sizeof five);
  step5 = resealed(std::vector<std::byte>(step5.begin(), step5.end() - 8));
  CHECK_THROWS_AS(g.load(std::span(step5).first(step5.size() - 1)), invalid_argument);
  CHECK(g.step() == 0);
  CHECK(g.save() == bytes);
  g.load(step5);
  CHECK(g.step() == 5);
}

TEST_CASE("every single-bit flip of a checkpoint is refused, and leaves the state as it was") {
  // RelaySGD on a chain of 2 with a state (relays, counts, x0), after 3 steps.
  comm::inprocess_world world(2);
  std::vector<double> x0(5, 1.0), x1(5, 1.0);
  std::vector<std::byte> bytes;
  std::vector<std::byte> other;
  using relay_t = relaysgd<topology::graph, comm::inprocess, exec::host, double>;
  {
    std::vector<std::thread> threads;
    std::vector<std::vector<std::byte>> saved(2);
    for (int rank = 0; rank < 2; ++rank)
      threads.emplace_back([&, rank] {
        std::vector<double>& x = rank == 0 ? x0 : x1;
        relay_t r(topology::chain(2), comm::inprocess(world, rank), parameters<double>::packed(x.data(), {{3}, {2}}),
                  {}, exec::host(1));
        for (int t = 0; t < 3; ++t) {
          x[0] += 0.5 * (rank + 1);
          r.mix();
        }
        saved[static_cast<std::size_t>(rank)] = r.save();
      });
    for (auto& t : threads) t.join();
    bytes = saved[0];
  }
  comm::inprocess_world fresh(2);
  std::vector<double> y(5, 1.0);
  relay_t r(topology::chain(2), comm::inprocess(fresh, 0), parameters<double>::packed(y.data(), {{3}, {2}}), {},
            exec::host(1));
  const std::vector<std::byte> untouched = r.save();
  std::size_t refused = 0;
  for (std::size_t k = 0; k < bytes.size() * 8; ++k) {
    std::vector<std::byte> flipped = bytes;
    flipped[k / 8] ^= static_cast<std::byte>(1u << (k % 8));
    try {
      r.load(flipped);
    } catch (const invalid_argument&) {
      ++refused;
    }
  }
  CHECK(refused == bytes.size() * 8);
  CHECK(r.save() == untouched);  // no failed load changed anything
  r.load(bytes);                 // the original loads
  CHECK(r.save() == bytes);
  CHECK(bytes.size() > 100);
}
