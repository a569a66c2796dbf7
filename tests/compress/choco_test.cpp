#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <decent/algorithm/choco.hpp>
#include <decent/algorithm/gossip.hpp>
#include <decent/comm/inprocess.hpp>
#include <decent/compress/identity.hpp>
#include <decent/sim/cluster.hpp>
#include <decent_sim/runner.hpp>
#include <decent/topology/topologies.hpp>

using namespace decent;

namespace {

const exec::host ex(1);

template <class C>
std::vector<double> round_trip(const C& c, std::vector<double> v, double coef = 1.0) {
  const tensor_view<double> view{v.data(), shape{static_cast<std::int64_t>(v.size())}, memory_space::host};
  std::vector<std::byte> message(c.message_bytes(view.shape));
  c.encode(ex, view, message.data());
  std::vector<double> out(v.size(), 0.0);
  c.decode_add(ex, message.data(), coef, tensor_view<double>{out.data(), view.shape, memory_space::host});
  return out;
}

void random_start(int i, std::vector<double>& x) {
  const random_stream s{31, 2, static_cast<std::uint32_t>(i)};
  for (std::size_t k = 0; k < x.size(); ++k) x[k] = s.normal(k);
}

/// Runs `steps` Choco steps with compressor C on `g` for 2 tensors and returns each worker's parameters.
template <class C>
std::vector<std::vector<double>> run_choco(const topology::graph& g, int steps, choco_options<typename C::options> o) {
  const int n = g.size();
  std::vector<std::vector<double>> x(static_cast<std::size_t>(n), std::vector<double>(60));
  sim::cluster workers(n);
  workers.run([&](comm::inprocess c) {
    auto& mine = x[static_cast<std::size_t>(c.rank())];
    random_start(c.rank(), mine);
    choco<topology::graph, comm::inprocess, C> mixer(g, std::move(c), {{mine.data(), {5, 10}}, {mine.data() + 50, {10}}},
                                                      o, exec::host(1));
    for (int t = 0; t < steps; ++t) mixer.mix();
  });
  return x;
}

}  // namespace

TEST_CASE("sign-and-norm: (mean |v|)·sign(v), bit-packed") {
  const compress::sign<exec::host, double> c;
  CHECK(c.message_bytes(shape{100}) == 8 + 4 * 4);
  CHECK(round_trip(c, {1, -2, 3, -4}) == std::vector<double>{2.5, -2.5, 2.5, -2.5});
  CHECK(round_trip(c, {0, 0, 0}) == std::vector<double>{0, 0, 0});
  std::vector<double> v(70);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = (i % 3 == 0 ? -1.0 : 1.0) * static_cast<double>(i + 1);
  const auto out = round_trip(c, v, 2.0);
  const double scale = 2.0 * (70.0 * 71.0 / 2.0) / 70.0;
  for (std::size_t i = 0; i < v.size(); ++i) CHECK(out[i] == doctest::Approx(v[i] < 0 ? -scale : scale));
}

TEST_CASE("sign decoding: the host's word items and the device's element items give the same bits") {
  // 70 elements: two full words and a tail of 6; destinations and signs random, coefficient not a power of 2.
  std::vector<float> start(70);
  std::vector<std::uint32_t> words(3, 0);
  const random_stream s{5, 1, 1};
  for (std::size_t i = 0; i < start.size(); ++i) {
    start[i] = static_cast<float>(s.normal(i));
    if (s.normal(1000 + i) >= 0) words[i / 32] |= std::uint32_t{1} << (i % 32);
  }
  const float scale = 0.3f;
  const double coef = 0.7;
  for (const std::size_t n : {std::size_t{64}, std::size_t{70}}) {
    CAPTURE(n);
    std::vector<float> by_word(start.begin(), start.begin() + static_cast<std::ptrdiff_t>(n)), by_element = by_word;
    using word_kernel = decent::detail::add_signs_kernel<float, 32>;
    using element_kernel = decent::detail::add_signs_kernel<float, 1>;
    ex.for_each(word_kernel::items(n), word_kernel{by_word.data(), &scale, words.data(), coef, n});
    ex.for_each(element_kernel::items(n), element_kernel{by_element.data(), &scale, words.data(), coef, n});
    for (std::size_t i = 0; i < n; ++i) {
      CAPTURE(i);
      const bool positive = (words[i / 32] >> (i % 32)) & 1u;
      const auto expected = static_cast<float>(static_cast<double>(start[i]) +
                                               coef * static_cast<double>(scale) * (positive ? 1.0 : -1.0));
      CHECK(std::bit_cast<std::uint32_t>(by_word[i]) == std::bit_cast<std::uint32_t>(expected));
      CHECK(std::bit_cast<std::uint32_t>(by_element[i]) == std::bit_cast<std::uint32_t>(expected));
    }
  }
}

TEST_CASE("top-k: the k largest magnitudes, ties to the lower index, as indices and values") {
  const compress::top_k<exec::host, double> c({0.3});
  CHECK(c.kept(10) == 3);
  CHECK(c.kept(1) == 1);
  CHECK(c.message_bytes(shape{10}) == 16 + 3 * 8);  // 3 indices padded to 16 bytes, 3 doubles
  CHECK(round_trip(c, {0.1, -5, 2, 0.3, 5, -0.2, 1, 0, 2, 0}) ==
        std::vector<double>{0, -5, 2, 0, 5, 0, 0, 0, 0, 0});  // |2| at index 2 beats the tie at index 8
  using top_k_t = compress::top_k<exec::host, double>;
  CHECK_THROWS_AS(top_k_t(compress::top_k_options{0.0}), invalid_argument);
  CHECK_THROWS_AS(top_k_t(compress::top_k_options{1.5}), invalid_argument);
}

namespace {

/// Top-k's message for `v` as the definition writes it: a stable sort of the indices by decreasing magnitude
/// (ties stay in index order, so the lower index wins), the first k in ascending order, and their values.
template <class T>
std::vector<std::byte> top_k_by_sorting(const compress::top_k<exec::host, T>& c, const std::vector<T>& v) {
  const std::size_t k = c.kept(v.size());
  std::vector<std::uint32_t> order(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) order[i] = static_cast<std::uint32_t>(i);
  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    const T ma = std::isnan(v[a]) ? std::numeric_limits<T>::infinity() : std::abs(v[a]);
    const T mb = std::isnan(v[b]) ? std::numeric_limits<T>::infinity() : std::abs(v[b]);
    return ma > mb || (ma == mb && std::isnan(v[a]) && !std::isnan(v[b]));  // a NaN above infinity
  });
  order.resize(k);
  std::sort(order.begin(), order.end());
  std::vector<std::byte> message(c.message_bytes(shape{static_cast<std::int64_t>(v.size())}), std::byte{0});
  std::memcpy(message.data(), order.data(), 4 * k);
  const std::size_t values = message.size() - k * sizeof(T);
  for (std::size_t m = 0; m < k; ++m) std::memcpy(message.data() + values + m * sizeof(T), &v[order[m]], sizeof(T));
  return message;
}

template <class T>
std::vector<std::byte> top_k_message(const compress::top_k<exec::host, T>& c, const exec::host& on, std::vector<T> v) {
  std::vector<std::byte> message(c.message_bytes(shape{static_cast<std::int64_t>(v.size())}), std::byte{0x5a});
  c.encode(on, tensor_view<T>{v.data(), shape{static_cast<std::int64_t>(v.size())}, memory_space::host}, message.data());
  return message;
}

}  // namespace

TEST_CASE("top-k's selection is the sorting definition's, byte for byte, on data that fools its sample") {
  // Large tensors take the sampled path (a floor from a strided sample, one collecting pass); data that the sample
  // misjudges falls back to the exact selection on the whole tensor. Both must give the definition's message, on
  // one thread or two, for float and double.
  const auto check_all = [](auto zero, std::size_t n, double fraction, const auto& make) {
    using T = decltype(zero);
    std::vector<T> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<T>(make(i));
    const compress::top_k<exec::host, T> c({fraction});
    const auto expected = top_k_by_sorting(c, v);
    CHECK(top_k_message(c, exec::host(1), v) == expected);
    CHECK(top_k_message(c, exec::host(2), v) == expected);
    CHECK(top_k_message(c, exec::host(2), v) == expected);  // again: the scratch of the last call is reused
  };
  const random_stream s{7, 1, 0};
  const std::size_t big = std::size_t{1} << 20;
  for (const double f : {0.001, 0.01, 0.05, 0.3, 1.0}) {
    CAPTURE(f);
    // Distinct magnitudes of both signs (the sample is right).
    check_all(0.0f, big, f, [&](std::size_t i) { return s.normal(i); });
    check_all(0.0, big + 12345, f, [&](std::size_t i) { return s.normal(i); });
    // Few magnitudes, many ties across chunks; −0 ties +0.
    check_all(0.0f, big, f, [](std::size_t i) { return (i % 7 == 0 ? -1.0 : 1.0) * static_cast<double>(i * 2654435761u % 5); });
    // All zero: the floor is 0, every chunk overflows its room.
    check_all(0.0f, big, f, [](std::size_t i) { return i % 2 ? -0.0 : 0.0; });
    // Large exactly where the sample looks: at 3 % the floor (1.0) is reached by 16384 entries, fewer than k.
    check_all(0.0f, big, f, [&](std::size_t i) { return i % 64 == 0 ? 1.0 : 0.4 * s.uniform(i); });
    // A ramp (sorted data) and sizes around the sampled path's threshold.
    check_all(0.0, (std::size_t{1} << 16) - 1, f, [](std::size_t i) { return static_cast<double>(i); });
    check_all(0.0, std::size_t{1} << 16, f, [](std::size_t i) { return -static_cast<double>(i); });
  }
  check_all(0.0f, big, 0.03, [&](std::size_t i) { return i % 64 == 0 ? 1.0 : 0.4 * s.uniform(i); });
  // Infinities and NaNs: a NaN is above every number, an infinity above every finite one.
  check_all(0.0f, big, 0.01, [&](std::size_t i) {
    return i % 5000 == 0 ? std::numeric_limits<double>::quiet_NaN()
           : i % 3001 == 0 ? -std::numeric_limits<double>::infinity()
                           : s.normal(i);
  });
}

TEST_CASE("choco with the identity compressor and gamma 1 is plain gossip") {
  const auto g = topology::ring(6);
  const auto choco_x = run_choco<compress::identity<exec::host, double>>(g, 12, {{1.0}});
  std::vector<std::vector<double>> x(6, std::vector<double>(60));
  sim::cluster workers(6);
  workers.run([&](comm::inprocess c) {
    auto& mine = x[static_cast<std::size_t>(c.rank())];
    random_start(c.rank(), mine);
    gossip<topology::graph, comm::inprocess, exec::host, double> plain(g, std::move(c), {{mine.data(), {60}}}, {1.0},
                                                                       exec::host(1));
    for (int t = 0; t < 12; ++t) plain.mix();
  });
  for (std::size_t i = 0; i < 6; ++i)
    for (std::size_t k = 0; k < 60; ++k) CHECK(choco_x[i][k] == doctest::Approx(x[i][k]).epsilon(1e-13));
}

TEST_CASE("choco by hand: two workers, top-1 of 2 coordinates, gamma 1/2, two steps") {
  // x0 = (3, 1), x1 = (0, −2); W = 1/2 everywhere. Step 1: q0 = (3, 0), q1 = (0, −2), s = (1.5, −1),
  // x0 = (2.25, 0.5), x1 = (0.75, −1.5). Step 2: q0 = (−0.75, 0), q1 = (0.75, 0), s unchanged,
  // x0 = (1.875, 0), x1 = (1.125, −1).
  std::vector<std::vector<double>> x = {{3, 1}, {0, -2}};
  std::vector<std::vector<std::vector<double>>> after(2, std::vector<std::vector<double>>(2));
  choco_options<compress::top_k_options> o;
  o.gamma = 0.5;
  o.compression.fraction = 0.5;
  sim::cluster workers(2);
  workers.run([&](comm::inprocess c) {
    const auto r = static_cast<std::size_t>(c.rank());
    choco<topology::graph, comm::inprocess, compress::top_k<exec::host, double>> mixer(
        topology::chain(2), std::move(c), {{x[r].data(), {2}}}, o, exec::host(1));
    for (std::size_t t = 0; t < 2; ++t) {
      mixer.mix();
      after[t][r] = x[r];
    }
  });
  CHECK(after[0][0] == std::vector<double>{2.25, 0.5});
  CHECK(after[0][1] == std::vector<double>{0.75, -1.5});
  CHECK(after[1][0] == std::vector<double>{1.875, 0});
  CHECK(after[1][1] == std::vector<double>{1.125, -1});
}

TEST_CASE("choco with sign and top-k preserves every coordinate's mean over 1000 steps and reaches consensus") {
  const auto g = topology::ring(8);
  std::vector<double> start(60, 0.0);
  for (int i = 0; i < 8; ++i) {
    std::vector<double> x(60);
    random_start(i, x);
    for (std::size_t k = 0; k < 60; ++k) start[k] += x[k];
  }
  auto check = [&](const std::vector<std::vector<double>>& x) {
    double spread = 0;
    for (std::size_t k = 0; k < 60; ++k) {
      double sum = 0;
      for (const auto& xi : x) sum += xi[k];
      CHECK(sum == doctest::Approx(start[k]).epsilon(1e-12).scale(1));
      for (const auto& xi : x) spread = std::max(spread, std::abs(xi[k] - sum / 8));
    }
    return spread;
  };
  const double sign_spread = check(run_choco<compress::sign<exec::host, double>>(g, 1000, {{0.3}}));
  CHECK(sign_spread < 1e-6);  // starts near 3
  choco_options<compress::top_k_options> topk{{0.05}};
  topk.compression.fraction = 0.2;
  CHECK(check(run_choco<compress::top_k<exec::host, double>>(g, 1000, topk)) < 1e-3);
}

TEST_CASE("decent-sim choco: bytes per step are the compressed messages, and bad compressor specs are rejected") {
  auto bytes_per_step = [](const char* compressor) {
    std::vector<double> bytes;
    sim::run(sim::parse_arguments({"--algorithm", "choco", "--compressor", compressor, "--topology", "ring:8", "--shape",
                                   "100x100", "--gamma", "0.0375", "--steps", "2"}),
             [&](const sim::row& r) { bytes.push_back(r.bytes_per_worker); });
    return bytes[2] - bytes[1];
  };
  CHECK(bytes_per_step("sign") == 2 * (4 + 4 * 313));          // scale + 10,000 sign bits, to 2 neighbours
  CHECK(bytes_per_step("topk:0.01") == 2 * (100 * 4 + 100 * 4));  // 100 indices + 100 f32 values
  for (const char* bad : {"topk", "topk:0", "topk:2", "topk:x", "svd"})
    CHECK_THROWS_AS(sim::parse_arguments({"--algorithm", "choco", "--compressor", bad}), invalid_argument);
  CHECK_THROWS_AS(sim::run(sim::parse_arguments({"--algorithm", "choco", "--topology", "one-peer-exponential:8"})),
                  invalid_argument);
}
