#pragma once
/// @file
/// @brief Counter-based random numbers (Philox4x32-10) that are identical on host, device and every rank.
///
/// A `random_stream` is keyed by a 64-bit seed and two 32-bit stream ids (e.g. the two endpoints of an edge,
/// or a rank and a purpose). Draw `k` of a stream is a pure function of (seed, stream ids, k): no state is
/// carried, so workers that share the key draw the same numbers in any order, on any device, without talking.
///
/// Determinism: the raw 32-bit words and the uniforms are bit-identical on host and device. Normals use
/// Box–Muller with `log`, `sqrt`, `cos`, `sin`; CUDA's math library may differ from glibc in the last ulp.

#include <cmath>
#include <cstdint>

#include <decent/core/config.hpp>

namespace decent {

/// Bit of stream_a that marks the streams of the simulator's problems (see `random_stream`).
inline constexpr std::uint32_t problem_stream_bit = 1u << 29;

/// Four 32-bit words: one Philox counter or one Philox output block.
struct philox_block {
  std::uint32_t w[4];
};

/// One application of the Philox4x32 bijection with 10 rounds (Salmon et al., SC'11).
DECENT_HD inline philox_block philox4x32_10(philox_block ctr, std::uint32_t key0, std::uint32_t key1) {
  constexpr std::uint32_t m0 = 0xD2511F53u, m1 = 0xCD9E8D57u;  // round multipliers
  constexpr std::uint32_t w0 = 0x9E3779B9u, w1 = 0xBB67AE85u;  // Weyl key increments
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key0 += w0;
      key1 += w1;
    }
    const std::uint64_t p0 = static_cast<std::uint64_t>(m0) * ctr.w[0];
    const std::uint64_t p1 = static_cast<std::uint64_t>(m1) * ctr.w[2];
    const auto hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const auto hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    ctr = philox_block{{hi1 ^ ctr.w[1] ^ key0, lo1, hi0 ^ ctr.w[3] ^ key1, lo0}};
  }
  return ctr;
}

/// A keyed stream of random numbers; trivially copyable, usable in device code.
///
/// Streams of the library do not overlap: `for_edge` keys use ranks (< 2^27, see topology::max_workers) as
/// stream_a; the asynchronous runtime's matching schedule and rate draws use stream_a = 2^27, the event
/// simulator's schedule 2^28, the simulator's problems set bit 29 (`problem_stream_bit`), RelaySum's drops bit 31.
struct random_stream {
  std::uint64_t seed = 0;
  std::uint32_t stream_a = 0;
  std::uint32_t stream_b = 0;

  /// The stream shared by the two endpoints of an undirected edge: keyed by (seed, min(i,j), max(i,j)).
  DECENT_HD static random_stream for_edge(std::uint64_t seed, int i, int j) {
    const auto lo = static_cast<std::uint32_t>(i < j ? i : j), hi = static_cast<std::uint32_t>(i < j ? j : i);
    return random_stream{seed, lo, hi};
  }

  /// Block `b` of the stream: counter (b_lo, b_hi, stream_a, stream_b), key (seed_lo, seed_hi).
  DECENT_HD philox_block block(std::uint64_t b) const {
    return philox4x32_10(philox_block{{static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(b >> 32), stream_a, stream_b}},
                         static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
  }

  /// Draw k as a 32-bit word (four words per block).
  DECENT_HD std::uint32_t bits(std::uint64_t k) const { return block(k / 4).w[k % 4]; }

  /// Draw k as a double uniform in the open interval (0, 1), with 53 random bits (two per block).
  DECENT_HD double uniform(std::uint64_t k) const {
    const philox_block b = block(k / 2);
    const unsigned h = static_cast<unsigned>(k % 2) * 2u;
    return to_unit(b.w[h], b.w[h + 1]);
  }

  /// Draw k as a standard normal (Box–Muller; draws 2m and 2m+1 share one block).
  DECENT_HD double normal(std::uint64_t k) const {
    const philox_block b = block(k / 2);
    const double u1 = to_unit(b.w[0], b.w[1]), u2 = to_unit(b.w[2], b.w[3]);
    const double r = sqrt(-2.0 * log(u1));
    constexpr double two_pi = 6.283185307179586476925286766559;
    return (k % 2 == 0) ? r * cos(two_pi * u2) : r * sin(two_pi * u2);
  }

  /// Draw k as an integer uniform in [0, n) (Lemire's multiply-shift on 32 bits; n < 2^32).
  DECENT_HD std::uint32_t below(std::uint64_t k, std::uint32_t n) const {
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>(bits(k)) * n) >> 32);
  }

 private:
  DECENT_HD static double to_unit(std::uint32_t hi, std::uint32_t lo) {
    const std::uint64_t x = ((static_cast<std::uint64_t>(hi) << 32) | lo) >> 11;  // 53 bits
    return (static_cast<double>(x) + 0.5) * 0x1.0p-53;
  }
};

/// A Poisson(mean) draw from `s`, using draws `next`, `next + 1`, ... (advanced past the ones used): Knuth's
/// product of uniforms, as a sum of draws of mean at most 16 so that exp(−mean) stays far from underflow. Host
/// only; `mean` must be finite (the cost grows with it: about mean + mean/16 uniforms).
inline std::int64_t poisson(const random_stream& s, double mean, std::uint64_t& next) {
  std::int64_t k = 0;
  for (double left = mean; left > 0; left -= 16) {
    const double limit = std::exp(-(left < 16.0 ? left : 16.0));
    for (double p = s.uniform(next++); p > limit; p *= s.uniform(next++)) ++k;
  }
  return k;
}

}  // namespace decent
