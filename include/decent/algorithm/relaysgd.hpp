#pragma once
/// @file
/// @brief RelaySGD (Vogels et al., 2021): the RelaySum mixing rule over a spanning tree (or two interleaved
/// trees), composed by `decent::mixer`.
///
///     using relay_t = decent::relaysgd<decent::topology::double_binary_tree, decent::comm::inprocess>;
///     relay_t relay(decent::topology::double_binary_tree(n), std::move(comm), params);   // RelaySGD (model variant)
///     // or RelaySGD/Grad: relay_t(decent::topology::double_binary_tree(n), std::move(comm), params,
///     //                           {decent::relay_variant::grad});
///     ...local step...; relay.mix();
///
/// A graph with a cycle is rejected at construction with the fix: binary-tree:N, double-binary-tree:N, or the
/// BFS spanning tree of your graph (`topology::bfs_spanning_tree`, spec `bfs:0:<spec>`).

#include <decent/algorithm/mixer.hpp>
#include <decent/exec/host.hpp>
#include <decent/mixing/relaysum.hpp>

namespace decent {

/// Synchronous RelaySGD; options: `relaysum_options` (variant, normalisation, drops, overlap).
template <class Topology, class Comm, class Exec = exec::host, class T = float>
using relaysgd = mixer<Topology, Comm, mixing::relaysum<detail::checked_executor<Exec, T>, detail::checked_element<Exec, T>>>;

}  // namespace decent
