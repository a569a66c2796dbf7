#pragma once
/// @file
/// @brief Checks once, at setup, that every rank built the same thing (topology, algorithm and options, parameter
/// layout), so that a mismatch is a clear error on every rank instead of a hang or silent garbage.
///
/// Each part is a 64-bit `fingerprint`. A communicator may offer `bool agree(std::uint64_t)` (true on every rank
/// when all ranks passed the same value; setup traffic, not counted); otherwise the values are compared through
/// `allreduce_sum` of their four 16-bit quarters and their squares — all ranks hold v iff Σv = n·v and Σv² = n·v²
/// on every rank, which every rank can check exactly in double.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <decent/comm/communicator.hpp>
#include <decent/core/error.hpp>

namespace decent::comm {

/// Whether every rank of `c` passed the same `value` (collective).
template <communicator C>
bool all_agree(C& c, std::uint64_t value) {
  if constexpr (requires { { c.agree(value) } -> std::same_as<bool>; }) {
    return c.agree(value);
  } else {
    std::array<double, 8> sums{};
    for (int q = 0; q < 4; ++q) {
      const auto quarter = static_cast<double>((value >> (16 * q)) & 0xffffu);
      sums[static_cast<std::size_t>(q)] = quarter;
      sums[static_cast<std::size_t>(4 + q)] = quarter * quarter;
    }
    const std::array<double, 8> mine = sums;
    c.allreduce_sum(sums.data(), sums.size());
    const auto n = static_cast<double>(c.size());
    for (std::size_t k = 0; k < 8; ++k)
      if (sums[k] != n * mine[k]) return false;
    return true;
  }
}

/// One part that all ranks must agree on: its name and its fingerprint.
struct agreement_part {
  std::string_view what;  ///< e.g. "the topology"
  std::uint64_t value;
};

/// Checks every part (collective); throws `comm_error` on every rank naming the parts that differ.
template <communicator C>
void check_agreement(C& c, std::initializer_list<agreement_part> parts) {
  std::string differ;
  for (const agreement_part& p : parts)
    if (!all_agree(c, p.value)) differ += (differ.empty() ? "" : ", ") + std::string(p.what);
  if (!differ.empty())
    throw comm_error(decent::detail::concat(
        "rank ", c.rank(), " of ", c.size(), ": the workers disagree on ", differ,
        " — every worker must build the same topology, algorithm, options and parameter layout"));
}

}  // namespace decent::comm
