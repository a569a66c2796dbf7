#pragma once
/// @file
/// @brief PowerGossip (Vogels et al., 2020): gossip whose edges carry low-rank power-iteration approximations
/// of the neighbour differences — the gossip mixing rule with the low-rank compressor, nothing more.
///
///     decent::powergossip_options o;
///     o.gamma = 1.308;            // diffusion rate
///     o.compression.rank = 2;     // and .iterations, .warm_start, .seed
///     decent::powergossip<decent::topology::graph, decent::comm::inprocess> pg(decent::topology::ring(8), std::move(comm), params, o);
///     pg.mix();
///     pg.rule().compressor().inject(...);   // replay injected P/Q

#include <decent/algorithm/mixer.hpp>
#include <decent/compress/low_rank.hpp>
#include <decent/exec/host.hpp>
#include <decent/mixing/gossip.hpp>

namespace decent {

/// Options of PowerGossip: γ and weights (gossip_options) plus `compression` (compress::low_rank_options).
using powergossip_options = compressed_gossip_options<compress::low_rank_options>;

/// Gossip with low-rank compressed edges.
template <class Topology, class Comm, class Exec = exec::host, class T = float>
using powergossip = mixer<Topology, Comm, mixing::gossip<detail::checked_executor<Exec, T>, detail::checked_element<Exec, T>,
                                                     compress::low_rank<detail::checked_executor<Exec, T>, detail::checked_element<Exec, T>>>>;

}  // namespace decent
