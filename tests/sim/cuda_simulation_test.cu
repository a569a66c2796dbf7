// decent-sim's --backend cuda against the host backend: same spec, same seed, same rows (to round-off).
// Part of the CUDA test binary (main in tests/exec/cuda_test.cu: exits 77 without a GPU).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <decent_sim/runner_cuda.cuh>
#include <decent_sim/runner.hpp>

namespace {
std::vector<decent::sim::row> rows_of(const std::vector<std::string>& flags, bool cuda) {
  std::vector<decent::sim::row> rows;
  const auto spec = decent::sim::parse_arguments(flags);
  const decent::sim::row_sink sink = [&](const decent::sim::row& r) { rows.push_back(r); };
  if (cuda) {
    decent::sim::run_cuda(spec, sink);
  } else {
    decent::sim::run(spec, sink);
  }
  return rows;
}
}  // namespace

TEST_CASE("simulations on the CUDA backend match the host backend") {
  const std::vector<std::vector<std::string>> runs = {
      {"--algorithm", "gossip", "--topology", "ring:8", "--shape", "40x30", "--steps", "20", "--precision", "f64"},
      {"--algorithm", "gossip", "--topology", "complete:12", "--problem", "quadratic", "--steps", "20", "--precision", "f64"},
      {"--algorithm", "allreduce", "--topology", "ring:6", "--problem", "logistic", "--steps", "10", "--precision", "f64"},
      {"--algorithm", "gossip", "--topology", "one-peer-exponential:8", "--shape", "100", "--steps", "3"},
      {"--algorithm", "relaysgd", "--topology", "double-binary-tree:10", "--problem", "quadratic", "--steps", "30",
       "--lr", "0.5", "--precision", "f64"},
      {"--algorithm", "relaysgd-grad", "--topology", "star:6", "--problem", "logistic", "--steps", "5"},
      {"--algorithm", "powergossip", "--topology", "ring:8", "--shape", "30x20,7,4x3x2", "--rank", "2",
       "--iterations", "2", "--gamma", "1.308", "--steps", "30", "--precision", "f64"},
      {"--algorithm", "powergossip", "--topology", "torus:3x3", "--problem", "logistic", "--no-warm-start",
       "--steps", "20", "--precision", "f64"},
      {"--algorithm", "choco", "--compressor", "sign", "--topology", "ring:6", "--shape", "50x3", "--gamma", "0.3",
       "--steps", "20", "--precision", "f64"},
      {"--algorithm", "choco", "--compressor", "topk:0.1", "--topology", "ring:6", "--problem", "quadratic",
       "--gamma", "0.1", "--steps", "20", "--precision", "f64"},
  };
  for (const auto& flags : runs) {
    CAPTURE(flags[3]);
    const auto host = rows_of(flags, false), device = rows_of(flags, true);
    REQUIRE(host.size() == device.size());
    for (std::size_t t = 0; t < host.size(); ++t) {
      CHECK(device[t].consensus == doctest::Approx(host[t].consensus).epsilon(1e-5).scale(1e-12));
      CHECK(device[t].bytes_per_worker == host[t].bytes_per_worker);
      if (host[t].loss) CHECK(*device[t].loss == doctest::Approx(*host[t].loss).epsilon(1e-6));
    }
  }
}
