// libFuzzer harness: decent-sim's flag parser on argument lists (the input's lines are the arguments).
// Only parsing and validation run here (no simulation; `edges:` topologies are not opened by the parser).
#include <string>
#include <vector>

#include <decent_sim/runner.hpp>

#include "fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 1024) return 0;
  std::vector<std::string> args(1);
  for (std::size_t k = 0; k < size; ++k) {
    if (data[k] == '\n') args.emplace_back();
    else args.back().push_back(static_cast<char>(data[k]));
  }
  decent::fuzz::reject_only_with_decent_errors([&] {
    const decent::sim::run_spec s = decent::sim::parse_arguments(args);
    decent::fuzz::require(s.steps >= 0 && s.every >= 1, "validated counts");
  });
  return 0;
}
