#pragma once
// Fashion-MNIST for decent-train: the IDX files of Debian's `dataset-fashion-mnist` package, read with zlib, and
// the per-worker shards (IID, or the Dirichlet(α) label split of the RelaySum paper's heterogeneity experiments).
// This is the user's side of a trainer: decent itself knows nothing of data.

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace train {

/// Images (rows × cols bytes each) and their labels (0–9).
struct dataset {
  std::vector<std::uint8_t> images;
  std::vector<std::uint8_t> labels;
  int rows = 0, cols = 0;
  [[nodiscard]] std::size_t size() const { return labels.size(); }
  [[nodiscard]] std::size_t pixels() const { return static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols); }
  [[nodiscard]] const std::uint8_t* image(std::size_t k) const { return images.data() + k * pixels(); }
};

inline constexpr int classes = 10;
inline constexpr const char* default_data_dir = "/usr/share/datasets/fashion-mnist";

namespace detail {

/// The whole content of a gzip file.
inline std::vector<std::uint8_t> read_gzip(const std::filesystem::path& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open " + path.string());
  std::vector<std::uint8_t> out;
  std::uint8_t chunk[1 << 16];
  for (;;) {
    const int n = gzread(f, chunk, sizeof chunk);
    if (n < 0) {
      int code = 0;
      const std::string what = gzerror(f, &code);
      gzclose(f);
      throw std::runtime_error(path.string() + " is not a readable gzip file: " + what);
    }
    if (n == 0) break;
    out.insert(out.end(), chunk, chunk + n);
  }
  gzclose(f);
  return out;
}

inline std::uint32_t big_endian(const std::vector<std::uint8_t>& b, std::size_t at) {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) | (std::uint32_t{b[at + 2]} << 8) |
         std::uint32_t{b[at + 3]};
}

/// The payload of an IDX file of unsigned bytes with `dims` dimensions, and its extents.
inline std::vector<std::uint8_t> read_idx(const std::filesystem::path& path, std::uint32_t dims,
                                          std::vector<std::uint32_t>& extents) {
  std::vector<std::uint8_t> b = read_gzip(path);
  const std::size_t header = 4 + 4 * std::size_t{dims};
  if (b.size() < header || b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] != dims)
    throw std::runtime_error(path.string() + " is not an IDX file of unsigned bytes with " + std::to_string(dims) +
                             " dimensions");
  std::size_t count = 1;
  extents.clear();
  for (std::uint32_t d = 0; d < dims; ++d) {
    extents.push_back(big_endian(b, 4 + 4 * std::size_t{d}));
    count *= extents.back();
  }
  if (b.size() != header + count)
    throw std::runtime_error(path.string() + " holds " + std::to_string(b.size() - header) + " bytes of data where " +
                             "its header announces " + std::to_string(count));
  b.erase(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(header));
  return b;
}

}  // namespace detail

/// Loads `train` or `t10k` from `dir` (the IDX files of Debian's dataset-fashion-mnist package).
inline dataset load_fashion_mnist(const std::filesystem::path& dir, const std::string& split) {
  const auto images = dir / (split + "-images-idx3-ubyte.gz");
  const auto labels = dir / (split + "-labels-idx1-ubyte.gz");
  if (!std::filesystem::exists(images) || !std::filesystem::exists(labels))
    throw std::runtime_error("Fashion-MNIST not found: " + images.string() + " is missing (install Debian's package "
                             "dataset-fashion-mnist: apt-get install dataset-fashion-mnist, or give --data DIR)");
  dataset d;
  std::vector<std::uint32_t> e;
  d.images = detail::read_idx(images, 3, e);
  d.rows = static_cast<int>(e[1]);
  d.cols = static_cast<int>(e[2]);
  const std::uint32_t n = e[0];
  d.labels = detail::read_idx(labels, 1, e);
  if (e[0] != n) throw std::runtime_error(split + ": " + std::to_string(n) + " images but " + std::to_string(e[0]) + " labels");
  for (const std::uint8_t l : d.labels)
    if (l >= classes) throw std::runtime_error(split + ": label " + std::to_string(l) + " is not a class 0–9");
  return d;
}

/// The first `n` samples of `d` (all when n is 0 or larger than the set).
inline dataset first(const dataset& d, std::size_t n) {
  if (n == 0 || n >= d.size()) return d;
  dataset out;
  out.rows = d.rows;
  out.cols = d.cols;
  out.images.assign(d.images.begin(), d.images.begin() + static_cast<std::ptrdiff_t>(n * d.pixels()));
  out.labels.assign(d.labels.begin(), d.labels.begin() + static_cast<std::ptrdiff_t>(n));
  return out;
}

/// Each worker's sample indices into the training set.
///
/// alpha <= 0: IID — a seeded permutation cut into n equal shards. alpha > 0: the Dirichlet label split of Lin et
/// al. (2021), used by the RelaySum paper: classes in a seeded order; for each class, proportions over the workers
/// are drawn from Dirichlet(α, …, α), workers already holding N/n samples get none of it, and the class's
/// samples are dealt out in those proportions. Small α gives each worker few classes (α = 0.01: mostly one),
/// shards of unequal size. Draws again (up to 100 times) while some worker gets no sample.
inline std::vector<std::vector<std::uint32_t>> split(const dataset& d, int workers, double alpha, std::uint64_t seed) {
  const std::size_t n = d.size();
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 12345);
  std::vector<std::uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<std::vector<std::uint32_t>> shards(static_cast<std::size_t>(workers));
  if (alpha <= 0) {
    for (std::size_t k = 0; k < n; ++k) shards[k % static_cast<std::size_t>(workers)].push_back(order[k]);
    return shards;
  }
  std::vector<std::vector<std::uint32_t>> by_class(classes);
  for (const std::uint32_t k : order) by_class[d.labels[k]].push_back(k);
  const double capacity = static_cast<double>(n) / workers;
  for (int attempt = 0; attempt < 100; ++attempt) {
    for (auto& s : shards) s.clear();
    std::vector<int> class_order(classes);
    std::iota(class_order.begin(), class_order.end(), 0);
    std::shuffle(class_order.begin(), class_order.end(), rng);
    for (const int c : class_order) {
      // Dirichlet(α) through Gamma(α) draws in log space: for α < 1, log G(α) = log G(α + 1) + log(U)/α, which
      // keeps tiny α (0.01) from underflowing to all zeros.
      std::gamma_distribution<double> gamma(alpha + 1, 1.0);
      std::uniform_real_distribution<double> uniform(std::numeric_limits<double>::min(), 1.0);
      std::vector<double> logs(static_cast<std::size_t>(workers));
      for (auto& l : logs) l = std::log(gamma(rng)) + (alpha < 1 ? std::log(uniform(rng)) / alpha : 0.0);
      std::vector<char> open(static_cast<std::size_t>(workers));
      for (int w = 0; w < workers; ++w)
        open[static_cast<std::size_t>(w)] = static_cast<double>(shards[static_cast<std::size_t>(w)].size()) < capacity;
      if (std::none_of(open.begin(), open.end(), [](char o) { return o != 0; })) std::fill(open.begin(), open.end(), 1);
      double top = -std::numeric_limits<double>::infinity();
      for (int w = 0; w < workers; ++w)
        if (open[static_cast<std::size_t>(w)]) top = std::max(top, logs[static_cast<std::size_t>(w)]);
      std::vector<double> p(static_cast<std::size_t>(workers), 0.0);
      double total = 0;
      for (int w = 0; w < workers; ++w)
        if (open[static_cast<std::size_t>(w)]) total += p[static_cast<std::size_t>(w)] = std::exp(logs[static_cast<std::size_t>(w)] - top);
      const auto& samples = by_class[static_cast<std::size_t>(c)];
      std::size_t begin = 0;
      double cumulative = 0;
      for (int w = 0; w < workers; ++w) {
        cumulative += p[static_cast<std::size_t>(w)] / total;
        const std::size_t end = w + 1 == workers ? samples.size()
                                                 : std::min(samples.size(), static_cast<std::size_t>(std::llround(cumulative * static_cast<double>(samples.size()))));
        for (std::size_t k = begin; k < std::max(begin, end); ++k) shards[static_cast<std::size_t>(w)].push_back(samples[k]);
        begin = std::max(begin, end);
      }
    }
    if (std::none_of(shards.begin(), shards.end(), [](const auto& s) { return s.empty(); })) return shards;
  }
  throw std::runtime_error("--alpha " + std::to_string(alpha) + ": after 100 draws some worker still gets no sample "
                           "(too many workers for the classes?)");
}

/// Sample order of one worker: its shard, reshuffled on every pass (seeded by seed, worker and pass).
class sampler {
 public:
  sampler(std::vector<std::uint32_t> shard, std::uint64_t seed, int worker)
      : shard_(std::move(shard)), seed_(seed), worker_(worker) {
    reshuffle();
  }
  /// The next `b` sample indices (wrapping into a fresh pass when the shard runs out).
  void next(std::size_t b, std::vector<std::uint32_t>& out) {
    out.clear();
    while (out.size() < b) {
      if (at_ == shard_.size()) {
        ++pass_;
        reshuffle();
      }
      out.push_back(shard_[at_++]);
    }
  }

 private:
  void reshuffle() {
    std::mt19937_64 rng(seed_ * 1000003u + static_cast<std::uint64_t>(worker_) * 7919u + pass_);
    std::shuffle(shard_.begin(), shard_.end(), rng);
    at_ = 0;
  }
  std::vector<std::uint32_t> shard_;
  std::uint64_t seed_;
  int worker_;
  std::uint64_t pass_ = 0;
  std::size_t at_ = 0;
};

/// How many samples of each class a shard holds.
inline std::vector<int> class_counts(const dataset& d, const std::vector<std::uint32_t>& shard) {
  std::vector<int> counts(classes, 0);
  for (const std::uint32_t k : shard) ++counts[d.labels[k]];
  return counts;
}

}  // namespace train
