#pragma once
/// @file
/// @brief All-reduce averaging, the synchronous baseline: every worker ends each round with the exact mean.
///
///     decent::allreduce<decent::comm::inprocess> avg(comm, params);
///     avg.mix();  // x_i ← (1/n) Σ_j x_j

#include <decent/algorithm/mixer.hpp>
#include <decent/exec/host.hpp>
#include <decent/mixing/average.hpp>

namespace decent {

/// Exact averaging with the communicator's all-reduce; needs no topology.
template <class Comm, class Exec = exec::host, class T = float>
using allreduce = mixer<no_topology, Comm, mixing::average<detail::checked_executor<Exec, T>, detail::checked_element<Exec, T>>>;

}  // namespace decent
