#pragma once
/// @file
/// @brief D² and exact diffusion (docs/algorithms.md §2.7): the D² mixing rule over a static topology.
///
///     decent::d2<decent::topology::graph, decent::comm::inprocess> d(decent::topology::ring(n), std::move(comm), params);
///     ...local step...; d.mix();   // y = x + c; x ← W y; c ← x − (the local step's result)
///     // exact diffusion: the options {0.5} (γ = ½, i.e. W ← (W + I)/2)

#include <decent/algorithm/mixer.hpp>
#include <decent/exec/host.hpp>
#include <decent/mixing/d2.hpp>

namespace decent {

/// Synchronous D² (options: `gossip_options`, γ and the weight scheme).
template <class Topology, class Comm, class Exec = exec::host, class T = float>
using d2 = mixer<Topology, Comm, mixing::d2<detail::checked_executor<Exec, T>, detail::checked_element<Exec, T>>>;

}  // namespace decent
