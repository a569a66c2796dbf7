// PowerGossip and Choco-SGD against uncompressed gossip, in bytes (docs/algorithms.md §3.4).
//
// 1. Consensus on the 8-worker ring with one 100×100 matrix per worker (f32): relative consensus against
//    cumulative bytes sent per worker, for gossip, powergossip (rank 1, 2; 1 and 2 iterations; warm and cold)
//    and choco (sign, top-1%; γ tuned over a log-spaced sweep in [1e-3, 1], best kept), and the bytes each
//    needs to reach relative consensus 1e-6.
// 2. The compression ratio per step (uncompressed bytes / compressed bytes per neighbour) on the layer shapes of
//    ResNet-20 (CIFAR), VGG-11 (CIFAR) and one GPT-2 block (d = 768), from the compressors' own accounting.
// Usage: compression [--curves FILE.csv] [--ratios FILE.csv] [--budget STEPS]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <decent/compress/low_rank.hpp>
#include <decent/compress/sign.hpp>
#include <decent/compress/top_k.hpp>
#include <decent/exec/host.hpp>
#include <decent/topology/topologies.hpp>
#include <decent_sim/runner.hpp>

namespace {

struct model {
  const char* name;
  std::vector<decent::shape> tensors;
};

std::vector<model> models() {
  model resnet{"resnet20", {{16, 3, 3, 3}, {16}, {16}}};
  for (int i = 0; i < 6; ++i) resnet.tensors.insert(resnet.tensors.end(), {{16, 16, 3, 3}, {16}, {16}});
  for (std::int64_t c : {32, 64}) {
    resnet.tensors.insert(resnet.tensors.end(), {{c, c / 2, 3, 3}, {c}, {c}});
    for (int i = 0; i < 5; ++i) resnet.tensors.insert(resnet.tensors.end(), {{c, c, 3, 3}, {c}, {c}});
  }
  resnet.tensors.insert(resnet.tensors.end(), {{10, 64}, {10}});
  model vgg{"vgg11", {}};
  std::int64_t in = 3;
  for (std::int64_t out : {64, 128, 256, 256, 512, 512, 512, 512}) {
    vgg.tensors.insert(vgg.tensors.end(), {{out, in, 3, 3}, {out}});
    in = out;
  }
  vgg.tensors.insert(vgg.tensors.end(), {{10, 512}, {10}});
  const model gpt2{"gpt2-block", {{768}, {768}, {768, 2304}, {2304}, {768, 768}, {768}, {768}, {768}, {768, 3072},
                                  {3072}, {3072, 768}, {768}}};
  return {resnet, vgg, gpt2};
}

/// Bytes per step and neighbour, averaged over two steps (odd and even power iterations alternate).
double low_rank_bytes(const decent::parameter_layout& layout, int rank, int iterations) {
  const decent::topology::graph pair = decent::topology::chain(2);
  const decent::exec::host ex(1);
  const decent::comm::round_context<decent::topology::graph, decent::exec::host> ctx{pair, ex, 0, 2, 0, 0};
  std::vector<float> storage(layout.numel());
  const auto params = decent::parameters<float>::packed(storage.data(), layout);
  const decent::compress::low_rank<decent::exec::host, float> c(ctx, params, {rank, iterations});
  double bytes = 0;
  for (std::int64_t step : {1, 2})
    for (int round = 0; round < iterations; ++round) bytes += static_cast<double>(c.message_bytes(step, round));
  return bytes / 2;
}

template <class C>
double vector_bytes(const C& c, const decent::parameter_layout& layout) {
  double bytes = 0;
  for (const auto& s : layout.shapes()) bytes += static_cast<double>(c.message_bytes(s));
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  std::string curves_path = "compression_curves.csv", ratios_path = "compression_ratios.csv";
  std::int64_t budget = 8000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--curves") == 0) curves_path = argv[i + 1];
    else if (std::strcmp(argv[i], "--ratios") == 0) ratios_path = argv[i + 1];
    else if (std::strcmp(argv[i], "--budget") == 0) budget = std::atoll(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }

  // 1. Consensus per byte.
  struct method {
    std::string label;
    std::vector<std::string> flags;
    std::vector<double> gammas = {};  ///< swept (best kept) when not empty
  };
  const std::vector<double> sweep = {0.001, 0.002, 0.005, 0.01, 0.02, 0.0375, 0.075, 0.15, 0.3, 0.6, 1.0};  // choco needs γ ≤ 1
  const std::vector<method> methods = {
      {"gossip", {"--algorithm", "gossip", "--gamma", "1.308"}},
      {"powergossip r1 i1 warm", {"--algorithm", "powergossip", "--gamma", "1.308"}},
      {"powergossip r1 i1 cold", {"--algorithm", "powergossip", "--gamma", "1.308", "--no-warm-start"}},
      {"powergossip r2 i1 warm", {"--algorithm", "powergossip", "--gamma", "1.308", "--rank", "2"}},
      {"powergossip r2 i1 cold", {"--algorithm", "powergossip", "--gamma", "1.308", "--rank", "2", "--no-warm-start"}},
      {"powergossip r1 i2 warm", {"--algorithm", "powergossip", "--gamma", "1.308", "--iterations", "2"}},
      {"powergossip r1 i2 cold", {"--algorithm", "powergossip", "--gamma", "1.308", "--iterations", "2", "--no-warm-start"}},
      {"powergossip r2 i2 warm", {"--algorithm", "powergossip", "--gamma", "1.308", "--rank", "2", "--iterations", "2"}},
      {"choco sign", {"--algorithm", "choco", "--compressor", "sign"}, sweep},
      {"choco top1%", {"--algorithm", "choco", "--compressor", "topk:0.01"}, sweep},
  };
  std::ofstream curves(curves_path);
  curves << "method,step,bytes_per_worker,relative_consensus\n";
  std::printf("ring:8, 100x100 f32 per worker: bytes per worker to reach relative consensus 1e-6\n");
  std::printf("%-26s %8s %14s %10s\n", "method", "steps", "bytes", "vs gossip");
  std::optional<double> gossip_bytes;
  for (const auto& m : methods) {
    struct outcome {
      std::string label;
      std::string curve;
      std::optional<decent::sim::row> reached;
      double final_consensus = 0;
      bool better_than(const outcome& o) const {
        if (reached && o.reached) return reached->bytes_per_worker < o.reached->bytes_per_worker;
        if (reached || o.reached) return reached.has_value();
        return final_consensus < o.final_consensus;
      }
    };
    std::optional<outcome> best;
    for (const double gamma : m.gammas.empty() ? std::vector<double>{0} : m.gammas) {
      std::vector<std::string> flags = {"--topology", "ring:8", "--problem", "consensus", "--shape", "100x100",
                                        "--steps", std::to_string(budget)};
      flags.insert(flags.end(), m.flags.begin(), m.flags.end());
      outcome run{m.label, {}, {}, 0};
      if (!m.gammas.empty()) {
        flags.insert(flags.end(), {"--gamma", std::to_string(gamma)});
        char label[64];
        std::snprintf(label, sizeof label, "%s g=%g", m.label.c_str(), gamma);
        run.label = label;
      }
      std::ostringstream curve;
      decent::sim::run(decent::sim::parse_arguments(flags), {}, [&](const decent::sim::row& r) {
        if (r.step < 100 || r.step % 10 == 0 || *r.relative_consensus <= 1e-6)
          curve << run.label << ',' << r.step << ',' << r.bytes_per_worker << ',' << *r.relative_consensus << '\n';
        run.final_consensus = *r.relative_consensus;
        if (*r.relative_consensus <= 1e-6) run.reached = r;
        return run.reached.has_value() || !(*r.relative_consensus < 1e6);
      });
      run.curve = curve.str();
      if (!best || run.better_than(*best)) best = run;
    }
    curves << best->curve;
    if (!best->reached) {
      std::printf("%-26s %8s %14s %10s  (relative consensus %.1e after %lld steps)\n", best->label.c_str(), "-",
                  "not reached", "", best->final_consensus, static_cast<long long>(budget));
      continue;
    }
    const auto& reached = best->reached;
    if (m.label == "gossip") gossip_bytes = reached->bytes_per_worker;
    std::printf("%-26s %8lld %14.0f %9.2fx\n", best->label.c_str(), static_cast<long long>(reached->step),
                reached->bytes_per_worker, gossip_bytes ? reached->bytes_per_worker / *gossip_bytes : 1.0);
    std::fflush(stdout);
  }

  // 2. Compression ratios on model layer shapes.
  std::ofstream ratios(ratios_path);
  ratios << "model,parameters,method,bytes_per_step,ratio\n";
  std::printf("\ncompression ratio per step and neighbour (uncompressed f32 bytes / compressed bytes)\n");
  std::printf("%-12s %10s %22s %14s %10s\n", "model", "params", "method", "bytes/step", "ratio");
  const decent::compress::sign<decent::exec::host, float> sign;
  const decent::compress::top_k<decent::exec::host, float> top1({0.01});
  for (const auto& m : models()) {
    const decent::parameter_layout layout(m.tensors);
    const double full = static_cast<double>(layout.numel() * sizeof(float));
    const std::vector<std::pair<std::string, double>> rows = {
        {"uncompressed", full},
        {"powergossip r1 i1", low_rank_bytes(layout, 1, 1)},
        {"powergossip r2 i1", low_rank_bytes(layout, 2, 1)},
        {"powergossip r1 i2", low_rank_bytes(layout, 1, 2)},
        {"powergossip r4 i1", low_rank_bytes(layout, 4, 1)},
        {"choco sign", vector_bytes(sign, layout)},
        {"choco top1%", vector_bytes(top1, layout)},
    };
    for (const auto& [label, bytes] : rows) {
      ratios << m.name << ',' << layout.numel() << ',' << label << ',' << bytes << ',' << full / bytes << '\n';
      std::printf("%-12s %10zu %22s %14.0f %9.1fx\n", m.name, layout.numel(), label.c_str(), bytes, full / bytes);
    }
  }
  std::printf("\ncurves: %s, ratios: %s\n", curves_path.c_str(), ratios_path.c_str());
  return 0;
}
