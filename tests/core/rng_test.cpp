#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <set>

#include <decent/core/rng.hpp>

using decent::philox4x32_10;
using decent::philox_block;
using decent::random_stream;

TEST_CASE("philox4x32-10 matches the Random123 known-answer vectors") {
  struct kat {
    philox_block ctr;
    std::uint32_t k0, k1;
    philox_block expected;
  };
  const kat cases[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}}},
      {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu, 0xffffffffu,
       {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}}},
      {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u,
       {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}},
  };
  for (const auto& c : cases) {
    const philox_block out = philox4x32_10(c.ctr, c.k0, c.k1);
    for (int w = 0; w < 4; ++w) CHECK(out.w[w] == c.expected.w[w]);
  }
}

TEST_CASE("a random stream is a pure function of its key and index") {
  const random_stream a{42, 3, 7}, b{42, 3, 7};
  // Same key, any order: same numbers.
  for (std::uint64_t k = 100; k-- > 0;) CHECK(a.normal(k) == b.normal(k));
  CHECK(a.uniform(5) == b.uniform(5));
  // Any part of the key changes the stream.
  CHECK(random_stream{43, 3, 7}.bits(0) != a.bits(0));
  CHECK(random_stream{42, 4, 7}.bits(0) != a.bits(0));
  CHECK(random_stream{42, 3, 8}.bits(0) != a.bits(0));
  // Edge streams ignore the endpoint order.
  CHECK(random_stream::for_edge(9, 2, 5).bits(11) == random_stream::for_edge(9, 5, 2).bits(11));
  CHECK(random_stream::for_edge(9, 2, 5).bits(11) != random_stream::for_edge(9, 2, 6).bits(11));
}

TEST_CASE("bits of a block are its four Philox words in order") {
  const random_stream s{1, 2, 3};
  const philox_block b = s.block(5);
  for (std::uint64_t w = 0; w < 4; ++w) CHECK(s.bits(20 + w) == b.w[w]);
}

TEST_CASE("uniforms lie in (0,1) and normals have the moments of N(0,1)") {
  const random_stream s{2026, 1, 0};
  constexpr int n = 200000;
  double mean = 0, second = 0, fourth = 0, umean = 0;
  double umin = 1, umax = 0;
  for (int k = 0; k < n; ++k) {
    const double u = s.uniform(static_cast<std::uint64_t>(k));
    umin = std::min(umin, u);
    umax = std::max(umax, u);
    umean += u;
    const double z = s.normal(static_cast<std::uint64_t>(k));
    mean += z;
    second += z * z;
    fourth += z * z * z * z;
  }
  CHECK(umin > 0.0);
  CHECK(umax < 1.0);
  // Standard errors: uniform mean sd = 0.29/sqrt(n) ~ 6.5e-4; normal mean 2.2e-3, E z^2 3.2e-3, E z^4 ~0.02.
  CHECK(umean / n == doctest::Approx(0.5).epsilon(0.004));
  CHECK(std::abs(mean / n) < 0.01);
  CHECK(second / n == doctest::Approx(1.0).epsilon(0.015));
  CHECK(fourth / n == doctest::Approx(3.0).epsilon(0.04));
}

TEST_CASE("below(n) covers 0..n-1 evenly") {
  const random_stream s{7, 0, 0};
  int counts[6] = {};
  for (std::uint64_t k = 0; k < 60000; ++k) {
    const auto v = s.below(k, 6);
    REQUIRE(v < 6u);
    ++counts[v];
  }
  for (int c : counts) CHECK(c == doctest::Approx(10000).epsilon(0.05));
}
