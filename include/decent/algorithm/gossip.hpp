#pragma once
/// @file
/// @brief Gossip averaging (D-PSGD): the gossip mixing rule over a topology (decent/mixing/gossip.hpp).
///
///     decent::gossip<decent::topology::graph, decent::comm::inprocess> g(decent::topology::ring(n), std::move(comm), params);
///     g.mix();  // x_i ← x_i + γ Σ_j w_ij (x_j − x_i)

#include <decent/algorithm/mixer.hpp>
#include <decent/exec/host.hpp>
#include <decent/mixing/gossip.hpp>

namespace decent {

/// Synchronous gossip averaging (options: `gossip_options`, γ and the weight scheme).
template <class Topology, class Comm, class Exec = exec::host, class T = float>
using gossip = mixer<Topology, Comm, mixing::gossip<detail::checked_executor<Exec, T>, detail::checked_element<Exec, T>>>;

}  // namespace decent
