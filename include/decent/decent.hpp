#pragma once
/// @file
/// @brief decent's host-safe umbrella header: everything that compiles with a plain C++20 compiler.
/// CUDA code includes <decent/cuda.cuh> as well. The in-process simulator (sim/: the threaded cluster, the
/// virtual-time event simulator, test problems) is not part of it: include <decent/sim/...> for it.

#include <decent/core/config.hpp>
#include <decent/core/error.hpp>
#include <decent/core/rng.hpp>
#include <decent/core/tensor.hpp>

#include <decent/exec/executor.hpp>
#include <decent/exec/host.hpp>

#include <decent/topology/analysis.hpp>
#include <decent/topology/matchings.hpp>
#include <decent/topology/any_topology.hpp>
#include <decent/topology/spec.hpp>
#include <decent/topology/topologies.hpp>
#include <decent/topology/topology.hpp>
#include <decent/topology/weights.hpp>

#include <decent/comm/communicator.hpp>
#include <decent/compress/compressor.hpp>
#include <decent/compress/identity.hpp>
#include <decent/compress/low_rank.hpp>
#include <decent/compress/sign.hpp>
#include <decent/compress/top_k.hpp>
#include <decent/comm/inprocess.hpp>

#include <decent/mixing/acid.hpp>
#include <decent/mixing/average.hpp>
#include <decent/mixing/choco.hpp>
#include <decent/mixing/d2.hpp>
#include <decent/mixing/gossip.hpp>
#include <decent/mixing/gradient_tracking.hpp>
#include <decent/mixing/mixing_rule.hpp>
#include <decent/mixing/quasi_global.hpp>
#include <decent/mixing/relaysum.hpp>
#include <decent/mixing/sgp.hpp>

#include <decent/algorithm/a2cid2.hpp>
#include <decent/algorithm/allreduce.hpp>
#include <decent/algorithm/choco.hpp>
#include <decent/algorithm/d2.hpp>
#include <decent/algorithm/gossip.hpp>
#include <decent/algorithm/gradient_tracking.hpp>
#include <decent/algorithm/mixer.hpp>
#include <decent/algorithm/powergossip.hpp>
#include <decent/algorithm/relaysgd.hpp>
#include <decent/algorithm/sgp.hpp>
