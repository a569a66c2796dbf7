#pragma once
/// @file
/// @brief Checks once, at setup, that every rank built the same thing (topology, algorithm and options, parameter
/// layout), so that a mismatch is a clear error on every rank instead of a hang or silent garbage.
///
/// Each part is a 64-bit `fingerprint`. A communicator may offer `bool agree(std::uint64_t)` (true on every rank
/// when all ranks passed the same value; setup traffic, not counted); otherwise the values are compared through
/// `allreduce_sum` of their four 16-bit quarters and their squares — all ranks hold v iff Σv = n·v and Σv² = n·v²
/// on every rank, which every rank can check exactly in double.

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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

/// One part that all ranks must agree on: its name, its fingerprint and, optionally, what it is in words on
/// this rank (e.g. the layout "[256x784],[256]"), quoted in the error when the ranks disagree.
struct agreement_part {
  std::string_view what;  ///< e.g. "the topology"
  std::uint64_t value;
  std::string_view detail = {};
};

namespace detail {

/// Collective, on every rank once `part` is known to differ: the ranks grouped by the value they hold, with their
/// details — "ranks 0, 1: [3]; rank 2: [4]". Empty when the communicator cannot reduce host memory.
template <communicator C>
std::string who_differs(C& c, const agreement_part& part) {
  if constexpr (!reduces_in<C, memory_space::host>) {
    return {};
  } else {
    constexpr std::size_t text = 96;  // characters of each rank's detail that travel
    constexpr std::size_t slot = 4 + text;
    const auto n = static_cast<std::size_t>(c.size()), me = static_cast<std::size_t>(c.rank());
    std::vector<double> all(n * slot, 0.0);
    for (int q = 0; q < 4; ++q) all[me * slot + static_cast<std::size_t>(q)] = static_cast<double>((part.value >> (16 * q)) & 0xffffu);
    for (std::size_t k = 0; k < std::min(text, part.detail.size()); ++k)
      all[me * slot + 4 + k] = static_cast<unsigned char>(part.detail[k]);
    c.allreduce_sum(all.data(), all.size());
    const auto value_of = [&](std::size_t r) {
      std::uint64_t v = 0;
      for (int q = 0; q < 4; ++q) v |= static_cast<std::uint64_t>(all[r * slot + static_cast<std::size_t>(q)]) << (16 * q);
      return v;
    };
    const auto detail_of = [&](std::size_t r) {
      std::string d;
      for (std::size_t k = 0; k < text && all[r * slot + 4 + k] != 0; ++k) d.push_back(static_cast<char>(all[r * slot + 4 + k]));
      return d;
    };
    // Ranks grouped by value, in order of first appearance: "rank 0: [3x3]; ranks 1, 2, 3: [4x3]", or without
    // details "ranks 0, 2, 3 vs rank 1".
    std::vector<std::vector<std::size_t>> groups;
    for (std::size_t r = 0; r < n; ++r) {
      auto g = std::find_if(groups.begin(), groups.end(), [&](const auto& members) { return value_of(members[0]) == value_of(r); });
      if (g == groups.end()) groups.push_back({r});
      else g->push_back(r);
    }
    std::string out;
    for (std::size_t k = 0; k < groups.size() && k < 4; ++k) {
      const auto& members = groups[k];
      out += k == 0 ? "" : part.detail.empty() ? " vs " : "; ";
      out += members.size() == 1 ? "rank " : "ranks ";
      for (std::size_t m = 0; m < members.size() && m < 8; ++m) out += (m ? ", " : "") + std::to_string(members[m]);
      if (members.size() > 8) out += ", ...";
      if (!part.detail.empty()) out += ": " + detail_of(members[0]);
    }
    if (groups.size() > 4) out += "; ...";
    return out;
  }
}

}  // namespace detail

/// Checks every part (collective); throws `comm_error` on every rank naming the parts that differ, the ranks
/// that differ from rank 0 and, where given, both values in words.
template <communicator C>
void check_agreement(C& c, std::initializer_list<agreement_part> parts) {
  std::string differ;
  for (const agreement_part& p : parts) {
    if (all_agree(c, p.value)) continue;
    differ += (differ.empty() ? "" : ", ") + std::string(p.what);
    const std::string who = detail::who_differs(c, p);
    if (!who.empty()) differ += " (" + who + ")";
  }
  if (!differ.empty())
    throw comm_error(decent::detail::concat(
        "rank ", c.rank(), " of ", c.size(), ": the workers disagree on ", differ,
        " — every worker must build the same topology, algorithm, options and parameter layout"));
}

}  // namespace decent::comm
