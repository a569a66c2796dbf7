// libFuzzer harness: an edge-list file with the input as its content, read through the topology parser.
#include <fstream>
#include <string>

#include <unistd.h>

#include <decent/topology/any_topology.hpp>
#include <decent/topology/spec.hpp>

#include "fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 65536) return 0;
  static const std::string path = "/tmp/decent_edge_file_fuzz." + std::to_string(::getpid()) + ".txt";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  decent::fuzz::reject_only_with_decent_errors([&] {
    const decent::topology::graph g = decent::topology::parse("edges:" + path).graph_at(0);
    decent::fuzz::require(g.size() >= 2, "an accepted edge file has at least 2 workers");
    std::size_t ends = 0;
    for (int i = 0; i < g.size(); ++i) ends += g.neighbors(i).size();
    decent::fuzz::require(ends == 2 * static_cast<std::size_t>(g.num_edges()), "every edge is listed at both ends");
  });
  return 0;
}
