#pragma once
/// @file
/// @brief Stochastic gradient push on the time-varying directed exponential graph (docs/algorithms.md §2.7): the
/// SGP mixing rule, which needs no topology (its graph is a function of the rank, the world size and the step).
///
///     decent::sgp<decent::comm::inprocess> s(std::move(comm), params);   // 2 one-peer exchanges per step
///     ...local step...; s.mix();   // x_i ← (x_i + x_{i−s})/2, s = 1, 2, 4, … in turn

#include <decent/algorithm/mixer.hpp>
#include <decent/exec/host.hpp>
#include <decent/mixing/sgp.hpp>

namespace decent {

/// Synchronous SGP (options: `sgp_options`, the exchanges per step).
template <class Comm, class Exec = exec::host, class T = float>
using sgp = mixer<no_topology, Comm, mixing::sgp<detail::checked_executor<Exec, T>, detail::checked_element<Exec, T>>>;

}  // namespace decent
