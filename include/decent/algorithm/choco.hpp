#pragma once
/// @file
/// @brief Choco-SGD's consensus (Koloskova et al., 2019): the Choco mixing rule with a vector compressor.
///
///     decent::choco_options<decent::compress::top_k_options> o;  // gamma, weights, compression.fraction
///     o.gamma = 0.0375;
///     decent::choco<decent::topology::graph, decent::comm::inprocess, decent::compress::top_k<decent::exec::host, float>>
///         c(decent::topology::ring(8), std::move(comm), params, o);
///     c.mix();

#include <decent/algorithm/mixer.hpp>
#include <decent/compress/sign.hpp>
#include <decent/compress/top_k.hpp>
#include <decent/exec/host.hpp>
#include <decent/mixing/choco.hpp>

namespace decent {

/// Options of Choco: γ and weights plus the compressor's options.
template <class CompressorOptions>
using choco_options = compressed_gossip_options<CompressorOptions>;

/// Choco-gossip with a vector compressor (sign, top_k or identity).
template <class Topology, class Comm, class Compressor>
using choco = mixer<Topology, Comm, mixing::choco<typename Compressor::executor_type, typename Compressor::value_type, Compressor>>;

}  // namespace decent
