// libFuzzer harness: load() of real checkpoints of four algorithms, corrupted as the input says.
//
// Input: byte 0 picks the algorithm (RelaySGD, Choco-sign, PowerGossip, A²CiD²); byte 1 is the mode: bit 0 reseal
// the checksum after corrupting (so that the corruption reaches the parser behind the checksum), bit 1 truncate
// at the first patch's offset, bit 2 load the rest of the input itself instead of a patched checkpoint. The rest:
// patches of 3 bytes (offset low, offset high, xor mask) applied to a checkpoint of a freshly built algorithm.
// Invariants: a refused load leaves the state unchanged (save() gives the same bytes), an accepted one saves back
// exactly what it loaded.
#include <cstring>
#include <vector>

#include <decent/algorithm/a2cid2.hpp>
#include <decent/algorithm/choco.hpp>
#include <decent/algorithm/powergossip.hpp>
#include <decent/algorithm/relaysgd.hpp>
#include <decent/comm/inprocess.hpp>
#include <decent/compress/sign.hpp>
#include <decent/sim/cluster.hpp>
#include <decent/topology/topologies.hpp>

#include "fuzz_target.hpp"

namespace {

using namespace decent;

std::vector<std::byte> sealed(std::vector<std::byte> content) {
  const std::uint64_t sum = checkpoint_checksum(content);
  const auto* p = reinterpret_cast<const std::byte*>(&sum);
  content.insert(content.end(), p, p + sizeof sum);
  return content;
}

template <class Algorithm>
void corrupt_and_load(Algorithm& algorithm, const std::uint8_t* data, std::size_t size) {
  const std::uint8_t mode = size > 1 ? data[1] : 0;
  const std::uint8_t* rest = data + std::min<std::size_t>(size, 2);
  const std::size_t rest_size = size > 2 ? size - 2 : 0;
  const std::vector<std::byte> before = algorithm.save();
  std::vector<std::byte> bytes;
  if (mode & 4) {
    bytes.assign(reinterpret_cast<const std::byte*>(rest), reinterpret_cast<const std::byte*>(rest) + rest_size);
  } else {
    bytes.assign(before.begin(), before.end() - 8);  // without the checksum
    for (std::size_t k = 0; k + 3 <= rest_size; k += 3) {
      const std::size_t at = (rest[k] | static_cast<std::size_t>(rest[k + 1]) << 8) % (bytes.size() + 1);
      if ((mode & 2) && k == 0) bytes.resize(at);
      else if (at < bytes.size()) bytes[at] ^= static_cast<std::byte>(rest[k + 2]);
    }
  }
  if (mode & 1) bytes = sealed(std::move(bytes));
  bool loaded = false;
  fuzz::reject_only_with_decent_errors([&] {
    algorithm.load(bytes);
    loaded = true;
  });
  const std::vector<std::byte> after = algorithm.save();
  if (loaded) fuzz::require(after == bytes, "an accepted checkpoint saves back as loaded");
  else fuzz::require(after == before, "a refused checkpoint leaves the state unchanged");
}

using acid_t = a2cid2<topology::graph, comm::inprocess, exec::host, double>;

/// A²CiD² has state only after start(), which is collective: rank 0's checkpoint of a short run on ring:3,
/// made once per process.
const std::vector<std::byte>& acid_checkpoint() {
  static const std::vector<std::byte> bytes = [] {
    std::vector<std::byte> out;
    sim::cluster(3).run([&](comm::inprocess c) {
      const parameter_layout layout{{3, 2}, {2}};
      std::vector<double> x(layout.numel(), 0.5 + c.rank());
      async_options o;
      o.step_time = true;
      const int rank = c.rank();
      acid_t a(topology::ring(3), std::move(c), parameters<double>::packed(x.data(), layout), o, exec::host(1));
      a.start();
      const std::vector<double> g(layout.numel(), 0.01 * rank);
      for (int t = 0; t < 5; ++t) a.step(g);
      a.stop();
      if (rank == 0) out = a.save();
    });
    return out;
  }();
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0 || size > 4096) return 0;
  const parameter_layout layout{{3, 2}, {2}};
  std::vector<double> x(layout.numel(), 0.5);
  comm::inprocess_world world(3);
  switch (data[0] % 4) {
    case 0: {
      relaysgd<topology::graph, comm::inprocess, exec::host, double> a(
          topology::chain(3), comm::inprocess(world, 1), parameters<double>::packed(x.data(), layout), {}, exec::host(1));
      corrupt_and_load(a, data, size);
      break;
    }
    case 1: {
      choco<topology::graph, comm::inprocess, compress::sign<exec::host, double>> a(
          topology::ring(3), comm::inprocess(world, 0), parameters<double>::packed(x.data(), layout), {}, exec::host(1));
      corrupt_and_load(a, data, size);
      break;
    }
    case 2: {
      powergossip<topology::graph, comm::inprocess, exec::host, double> a(
          topology::ring(3), comm::inprocess(world, 2), parameters<double>::packed(x.data(), layout), {}, exec::host(1));
      corrupt_and_load(a, data, size);
      break;
    }
    default: {
      async_options o;
      o.step_time = true;
      acid_t a(topology::ring(3), comm::inprocess(world, 0), parameters<double>::packed(x.data(), layout), o,
               exec::host(1));
      a.load(acid_checkpoint());
      corrupt_and_load(a, data, size);
      break;
    }
  }
  return 0;
}
