// libFuzzer harness: topology::parse on any spec string (edge files have their own harness).
// Accepted specs must build well-formed graphs: symmetric neighbour lists of in-range ranks, no self loops.
#include <algorithm>
#include <string_view>

#include <decent/topology/topologies.hpp>

#include <decent/topology/any_topology.hpp>
#include <decent/topology/spec.hpp>

#include "fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view spec(reinterpret_cast<const char*>(data), size);
  if (size > 128 || spec.find("edges") != std::string_view::npos) return 0;  // files: edge_file_fuzz
  // Counts from 513 to 2^20 are legal and can take seconds to build under the sanitizers (complete:2000 has 2
  // million edges and took 4 s here, more than the 10 s timeout on CI's loaded machine; complete:6685 has 22
  // million): not findings, so not fuzzed; counts above max_workers are, being refused at once.
  for (std::size_t k = 0; k < size;) {
    double number = 0;
    std::size_t end = k;
    while (end < size && spec[end] >= '0' && spec[end] <= '9') number = 10 * number + (spec[end++] - '0');
    if (end > k && number > 512 && number <= static_cast<double>(decent::topology::max_workers)) return 0;
    k = end > k ? end : k + 1;
  }
  decent::fuzz::reject_only_with_decent_errors([&] {
    const decent::topology::any_topology t = decent::topology::parse(spec);
    decent::fuzz::require(t.size() >= 1, "a topology has workers");
    // Large graphs are legal (up to max_workers); check the structure of the small ones, at a cost of at most
    // about 10^6 comparisons (the check is |E|·max_degree: complete:1000 would take the fuzzer's whole timeout).
    if (t.size() > 4096) return;
    const decent::topology::graph g = t.is_time_varying() ? t.union_graph() : t.graph_at(0);
    if (static_cast<double>(g.num_edges()) * g.max_degree() > 1e6) return;
    for (int i = 0; i < g.size(); ++i)
      for (const int j : g.neighbors(i)) {
        decent::fuzz::require(0 <= j && j < g.size() && j != i, "neighbours are other, in-range ranks");
        const auto back = g.neighbors(j);
        decent::fuzz::require(std::find(back.begin(), back.end(), i) != back.end(), "neighbour lists are symmetric");
      }
  });
  return 0;
}
