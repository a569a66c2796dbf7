#pragma once
/// @file
/// @brief Gossip averaging (D-PSGD): the gossip mixing rule over a topology (decent/mixing/gossip.hpp), alone or
/// with quasi-global momentum (decent/mixing/quasi_global.hpp).
///
///     decent::gossip<decent::topology::graph, decent::comm::inprocess> g(decent::topology::ring(n), std::move(comm), params);
///     g.mix();  // x_i ← x_i + γ Σ_j w_ij (x_j − x_i)
///
///     // D-PSGD with quasi-global momentum: the local step is plain SGD, the momentum is the rule's
///     decent::quasi_global_gossip<decent::topology::graph, decent::comm::inprocess> q(topo, std::move(comm), params,
///                                                                                    {{}, 0.9});

#include <decent/algorithm/mixer.hpp>
#include <decent/exec/host.hpp>
#include <decent/mixing/gossip.hpp>
#include <decent/mixing/quasi_global.hpp>

namespace decent {

/// Synchronous gossip averaging (options: `gossip_options`, γ and the weight scheme).
template <class Topology, class Comm, class Exec = exec::host, class T = float>
using gossip = mixer<Topology, Comm, mixing::gossip<detail::checked_executor<Exec, T>, detail::checked_element<Exec, T>>>;

/// Gossip with quasi-global momentum (options: `quasi_global_options<gossip_options>`: γ, weights, μ).
template <class Topology, class Comm, class Exec = exec::host, class T = float>
using quasi_global_gossip =
    mixer<Topology, Comm,
          mixing::quasi_global<mixing::gossip<detail::checked_executor<Exec, T>, detail::checked_element<Exec, T>>>>;

}  // namespace decent
