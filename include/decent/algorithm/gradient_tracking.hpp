#pragma once
/// @file
/// @brief Gradient tracking (docs/algorithms.md §2.7): the gradient-tracking mixing rule over a topology, two
/// exchanges per step (the parameters, then the tracker).
///
///     decent::gradient_tracking<decent::topology::graph, decent::comm::inprocess> gt(decent::topology::ring(n),
///                                                                                   std::move(comm), params);
///     ...local step...; gt.mix();

#include <decent/algorithm/mixer.hpp>
#include <decent/exec/host.hpp>
#include <decent/mixing/gradient_tracking.hpp>

namespace decent {

/// Synchronous gradient tracking (options: `gossip_options`, γ and the weight scheme).
template <class Topology, class Comm, class Exec = exec::host, class T = float>
using gradient_tracking =
    mixer<Topology, Comm, mixing::gradient_tracking<detail::checked_executor<Exec, T>, detail::checked_element<Exec, T>>>;

}  // namespace decent
