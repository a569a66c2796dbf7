// libFuzzer harness: topology::parse on any spec string (edge files have their own harness).
// Accepted specs must build well-formed graphs: symmetric neighbour lists of in-range ranks, no self loops.
#include <algorithm>
#include <string_view>

#include <decent/topology/any_topology.hpp>

#include "fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view spec(reinterpret_cast<const char*>(data), size);
  if (size > 128 || spec.find("edges") != std::string_view::npos) return 0;  // files: edge_file_fuzz
  decent::fuzz::reject_only_with_decent_errors([&] {
    const decent::topology::any_topology t = decent::topology::parse(spec);
    decent::fuzz::require(t.size() >= 1, "a topology has workers");
    // Large graphs are legal (up to max_workers); check the structure of the small ones.
    if (t.size() > 4096) return;
    const decent::topology::graph g = t.is_time_varying() ? t.union_graph() : t.graph_at(0);
    for (int i = 0; i < g.size(); ++i)
      for (const int j : g.neighbors(i)) {
        decent::fuzz::require(0 <= j && j < g.size() && j != i, "neighbours are other, in-range ranks");
        const auto back = g.neighbors(j);
        decent::fuzz::require(std::find(back.begin(), back.end(), i) != back.end(), "neighbour lists are symmetric");
      }
  });
  return 0;
}
