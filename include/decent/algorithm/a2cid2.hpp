#pragma once
/// @file
/// @brief A²CiD² and asynchronous gossip (docs/algorithms.md §1): the asynchronous runtime (`async_mixer`,
/// algorithm/async_mixer.hpp) with A²CiD²'s pairwise rule or plain pairwise averaging (mixing/acid.hpp),
/// optionally through an edge compressor.
///
///     decent::a2cid2<decent::topology::graph, decent::comm::inprocess> acid(ring, std::move(comm), params,
///                                                                           {.rate = 1, .lr = 0.1});
///     acid.start();                       // collective: averages x, x̃ = x, launches the communication thread
///     for (...) {
///       forward_backward(params, grad);   // reads the parameters; never writes them
///       acid.step(grad);                  // applies the exchanges that completed, then the gradient, in order
///     }
///     acid.stop();                        // collective: leaves the neighbours cleanly, then averages x

#include <decent/algorithm/async_mixer.hpp>
#include <decent/compress/identity.hpp>
#include <decent/compress/low_rank.hpp>
#include <decent/exec/host.hpp>
#include <decent/mixing/acid.hpp>

namespace decent {

/// A²CiD²: asynchronous pairwise gossip with the continuous momentum x̃ (options: `async_options`).
template <class Topology, class Comm, class Exec = exec::host, class T = float,
          class Compressor = compress::identity<detail::checked_executor<Exec, T>, detail::checked_element<Exec, T>>>
using a2cid2 = async_mixer<Topology, Comm, mixing::a2cid2_rule<detail::checked_executor<Exec, T>, detail::checked_element<Exec, T>, Compressor>>;

/// The asynchronous gossip baseline (AD-PSGD-like): the same runtime with plain pairwise averaging.
template <class Topology, class Comm, class Exec = exec::host, class T = float,
          class Compressor = compress::identity<detail::checked_executor<Exec, T>, detail::checked_element<Exec, T>>>
using async_gossip = async_mixer<Topology, Comm, mixing::pairwise_average<detail::checked_executor<Exec, T>, detail::checked_element<Exec, T>, Compressor>>;

/// A²CiD² whose pairwise exchanges move low-rank approximations of x_j − x_i (PowerGossip's compressor).
template <class Topology, class Comm, class Exec = exec::host, class T = float>
using a2cid2_low_rank = a2cid2<Topology, Comm, Exec, T, compress::low_rank<detail::checked_executor<Exec, T>, detail::checked_element<Exec, T>>>;

}  // namespace decent
