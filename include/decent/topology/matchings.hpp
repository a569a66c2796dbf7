#pragma once
/// @file
/// @brief A schedule of matchings that every worker computes on its own, for pairwise (asynchronous) gossip.
///
/// The edges of the graph get a proper colouring — greedy, in the order of `graph::edges()`, so at most 2Δ − 1
/// colours for maximum degree Δ — and round k of the schedule is the colour class drawn uniformly from a stream
/// keyed by the shared seed. A worker's partner in round k is its neighbour over the edge of that colour, or
/// none. Every worker derives the same schedule from (graph, seed) with no message and no coordinator, and
/// goes through it at its own pace: round k pairs i with j on both sides, so an exchange of round k only waits
/// for the partner to reach round k, and partners of earlier rounds never wait on later ones — no deadlock.
/// Each edge is scheduled in a fraction 1/colours of the rounds.

#include <algorithm>
#include <cstdint>
#include <vector>

#include <decent/core/error.hpp>
#include <decent/core/rng.hpp>
#include <decent/topology/topology.hpp>

namespace decent::topology {

/// The rounds of random matchings of a static graph shared by every worker (see the file comment).
class matching_schedule {
 public:
  /// Stream key of the round colours (stream_a), disjoint from the per-edge and problem streams.
  static constexpr std::uint32_t stream = 0x08000000u;

  /// @throw topology_error if the graph has no edge
  matching_schedule(const graph& g, std::uint64_t seed) : n_(g.size()), seed_(seed) {
    const auto edges = g.edges();
    expects<topology_error>(!edges.empty(), "pairwise gossip on ", g.name(), " needs at least one edge");
    std::vector<std::vector<int>> used(static_cast<std::size_t>(n_));  // colours taken at each vertex
    std::vector<int> edge_colour;
    for (const auto& [i, j] : edges) {
      const auto& ui = used[static_cast<std::size_t>(i)];
      const auto& uj = used[static_cast<std::size_t>(j)];
      int c = 0;
      while (std::find(ui.begin(), ui.end(), c) != ui.end() || std::find(uj.begin(), uj.end(), c) != uj.end()) ++c;
      used[static_cast<std::size_t>(i)].push_back(c);
      used[static_cast<std::size_t>(j)].push_back(c);
      edge_colour.push_back(c);
      colours_ = std::max(colours_, c + 1);
    }
    partner_.assign(static_cast<std::size_t>(n_) * static_cast<std::size_t>(colours_), -1);
    for (std::size_t e = 0; e < edges.size(); ++e) {
      const auto [i, j] = edges[e];
      at(i, edge_colour[e]) = j;
      at(j, edge_colour[e]) = i;
    }
  }

  /// Number of colour classes (distinct matchings).
  [[nodiscard]] int colours() const noexcept { return colours_; }
  [[nodiscard]] int size() const noexcept { return n_; }

  /// The colour class of round k.
  [[nodiscard]] int colour(std::int64_t round) const {
    return static_cast<int>(random_stream{seed_, stream, 0}.below(static_cast<std::uint64_t>(round),
                                                                   static_cast<std::uint32_t>(colours_)));
  }

  /// The partner of `rank` in matching `colour`, or −1.
  [[nodiscard]] int partner_in(int rank, int colour) const {
    return partner_[static_cast<std::size_t>(rank) * static_cast<std::size_t>(colours_) +
                    static_cast<std::size_t>(colour)];
  }

  /// The partner of `rank` in round k, or −1 when the round's matching leaves it out.
  [[nodiscard]] int partner(int rank, std::int64_t round) const { return partner_in(rank, colour(round)); }

 private:
  int& at(int rank, int colour) {
    return partner_[static_cast<std::size_t>(rank) * static_cast<std::size_t>(colours_) +
                    static_cast<std::size_t>(colour)];
  }

  int n_;
  std::uint64_t seed_;
  int colours_ = 0;
  std::vector<int> partner_;  ///< [rank][colour]
};

}  // namespace decent::topology
