// decent-train as a user runs it: every algorithm trains a real network on a subset of Fashion-MNIST well above
// chance; runs are deterministic for a seed; under mpirun it trains the same model as in one process; bad
// flags and a missing data set are one clear line each.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/subprocess.hpp"

#ifndef DECENT_TRAIN_PATH
#error "DECENT_TRAIN_PATH must name the decent-train binary"
#endif

namespace {

using decent::test::csv;
using decent::test::result;

constexpr const char* data_dir = "/usr/share/datasets/fashion-mnist";

result train(const std::string& args) { return decent::test::run_program(DECENT_TRAIN_PATH, args + " --quiet"); }

/// A short run: 8 workers on 6400 training images (100 steps of 8 images per epoch, 200 in all), 1000 test images.
const std::string small = " --workers 8 --batch 8 --epochs 2 --train-samples 6400 --test-samples 1000";

/// The rows of a run's CSV (header checked), as numbers; empty fields (the loss before training) are -1.
std::vector<std::vector<double>> rows_of(const result& r) {
  const auto table = csv(r.out);
  REQUIRE(table.size() >= 2);
  CHECK(table[0] == std::vector<std::string>{"epoch", "step", "time", "train_loss", "test_accuracy",
                                             "test_accuracy_workers", "consensus", "bytes_per_worker"});
  std::vector<std::vector<double>> rows;
  for (std::size_t k = 1; k < table.size(); ++k) {
    REQUIRE(table[k].size() == 8);
    std::vector<double> row;
    for (const auto& f : table[k]) row.push_back(f.empty() ? -1.0 : std::stod(f));
    rows.push_back(row);
  }
  return rows;
}

bool have_data() { return std::filesystem::exists(std::string(data_dir) + "/train-images-idx3-ubyte.gz"); }

}  // namespace

TEST_CASE("every algorithm trains the MLP well above chance on a subset of Fashion-MNIST") {
  if (!have_data()) {
    MESSAGE("Fashion-MNIST is not installed (Debian: dataset-fashion-mnist): skipped");
    return;
  }
  struct run_case {
    std::string flags;
    double min_accuracy;
  };
  // Chance is 0.1. The learning rates are those of the 16-worker runs in README, scaled for the shorter run.
  const std::vector<run_case> cases{
      {"--algorithm allreduce", 0.7},
      {"--algorithm gossip", 0.7},
      // Over seeds the accuracy spreads over 0.70-0.80 (the default seed, then 1-3: 0.70, 0.77, 0.76, 0.79 with f32
      // relays in f32; 0.72, 0.70, 0.80, 0.79 in double), so a rounding of the sums moves it across 0.7.
      {"--algorithm relaysgd --lr 0.2", 0.65},
      {"--algorithm relaysgd --lr 0.2 --drop 0.1 --update-reference", 0.7},  // 10 % of the messages lost
      {"--algorithm relaysgd --topology binary-tree --lr 0.2", 0.7},
      // Delayed updates with heavy momentum: unstable at lr 0.1 (the loss returns to chance), fine lower.
      {"--algorithm relaysgd-grad --lr 0.02", 0.65},
      // The workers drift apart at lr 0.1 (PowerGossip's consensus lags behind the low-rank compression).
      {"--algorithm powergossip --rank 2 --lr 0.05", 0.65},
      // Sign compression at lr 0.1 is on the edge here: on one CPU it trained (> 0.6), on another the consensus
      // grew to ~340 and the accuracy fell to 0.45 (the rounding of OpenBLAS's kernels differs); at 0.05 ~0.8.
      {"--algorithm choco --gamma 0.5 --lr 0.05", 0.6},
      // At lr 0.1 the asynchronous ones drift apart (consensus ~36, accuracy ~0.57); at 0.05 they reach ~0.8.
      {"--algorithm async-gossip --lr 0.05", 0.7},
      {"--algorithm a2cid2 --lr 0.05", 0.7},
      {"--algorithm a2cid2-low-rank --lr 0.02", 0.6},
      // The baselines of the RelaySGD tables (about 0.78-0.83 here).
      {"--algorithm d2", 0.7},
      {"--algorithm gradient-tracking", 0.7},
      {"--algorithm sgp", 0.7},
      {"--algorithm gossip --quasi-global-momentum", 0.7},
  };
  for (const auto& c : cases) {
    CAPTURE(c.flags);
    const result r = train(c.flags + small);
    REQUIRE_MESSAGE(r.status == 0, r.err);
    const auto rows = rows_of(r);
    REQUIRE(rows.size() == 3);  // epochs 0, 1, 2
    const auto& first = rows.front();
    const auto& last = rows.back();
    CHECK(first[0] == 0);
    CHECK(first[4] < 0.25);  // the untrained model: about chance
    CHECK(last[0] == 2);
    CHECK(last[1] == 200);
    CHECK(last[4] > c.min_accuracy);             // the averaged model
    CHECK(last[5] > c.min_accuracy - 0.2);       // the workers' own models, on average
    CHECK(first[3] == -1);                       // no training loss before training
    CHECK(last[3] < rows[1][3]);                 // the training loss falls
    CHECK(std::isfinite(last[6]));
    CHECK(last[7] > 0);                          // something was sent
    CHECK(rows[1][7] < last[7]);                 // and more as training goes on
    if (c.flags == "--algorithm allreduce") CHECK(last[6] == 0);  // exact averaging: one model
    else CHECK(last[6] > 0);
  }
}

TEST_CASE("a run is deterministic for a seed (host executor), and the seed matters") {
  if (!have_data()) return;
  const std::string flags = "--algorithm relaysgd --alpha 0.1" + small;
  const result a = train(flags), b = train(flags), c = train(flags + " --seed 1");
  REQUIRE(a.status == 0);
  REQUIRE(b.status == 0);
  REQUIRE(c.status == 0);
  auto ra = rows_of(a), rb = rows_of(b), rc = rows_of(c);
  for (auto* rows : {&ra, &rb, &rc})
    for (auto& row : *rows) row[2] = 0;  // wall time
  CHECK(ra == rb);
  CHECK(ra != rc);
}

#ifdef DECENT_MPIEXEC
TEST_CASE("under mpirun -np 4 decent-train trains the same model as 4 in-process workers") {
  if (!have_data()) return;
  const std::string flags = " --algorithm gossip --alpha 0.1 --batch 8 --epochs 1 --train-samples 2400 --test-samples 500";
  const result mpi = decent::test::run_program(
      "OMPI_MCA_btl=self,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo OMP_NUM_THREADS=1 "
      DECENT_MPIEXEC " -np 4 --allow-run-as-root --oversubscribe " DECENT_TRAIN_PATH,
      "--launch mpi --quiet" + flags);
  REQUIRE_MESSAGE(mpi.status == 0, mpi.err);
  const result local = train("--workers 4" + flags);
  REQUIRE(local.status == 0);
  const auto m = rows_of(mpi), l = rows_of(local);
  REQUIRE(m.size() == l.size());
  for (std::size_t k = 0; k < m.size(); ++k)
    for (std::size_t f : {0u, 1u, 3u, 4u, 5u, 6u, 7u}) {
      CAPTURE(k);
      CAPTURE(f);
      CHECK(m[k][f] == doctest::Approx(l[k][f]).epsilon(1e-5));
    }
  CHECK(m.back()[4] > 0.5);
  // Workers given twice: --workers must match the ranks.
  const result wrong = decent::test::run_program(
      "OMPI_MCA_btl=self,tcp OMP_NUM_THREADS=1 " DECENT_MPIEXEC " -np 2 --allow-run-as-root --oversubscribe "
      DECENT_TRAIN_PATH, "--launch mpi --quiet --workers 3" + flags);
  CHECK(wrong.status != 0);
  CHECK(wrong.err.find("--workers 3 but mpirun started 2 ranks") != std::string::npos);
}
#endif

TEST_CASE("--spectrum: the singular values of x_1 - x_0 hold the workers' whole disagreement on the weights") {
  if (!have_data()) {
    MESSAGE("Fashion-MNIST is not installed (Debian: dataset-fashion-mnist): skipped");
    return;
  }
  const std::string path = (std::filesystem::temp_directory_path() / "decent_train_spectrum.csv").string();
  const result r = train("--algorithm gossip --gamma 0.5 --workers 2 --batch 8 --epochs 1 --train-samples 1600 "
                         "--test-samples 200 --spectrum " + path);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const auto rows = rows_of(r);
  REQUIRE(rows.size() == 2);
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  const auto table = csv(text.str());
  REQUIRE(table.size() > 1);
  CHECK(table[0] == std::vector<std::string>{"epoch", "tensor", "rows", "cols", "k", "singular_value"});
  double start = 0, trained = 0;
  std::size_t values = 0;
  double previous = 0;
  for (std::size_t k = 1; k < table.size(); ++k) {
    const double sigma = std::stod(table[k][5]);
    if (table[k][4] != "0") CHECK(sigma <= previous);  // sorted, largest first, per tensor
    previous = sigma;
    (table[k][0] == "0" ? start : trained) += sigma * sigma;
    ++values;
  }
  CHECK(values == 2 * (256 + 128 + 10));  // min(rows, cols) per weight matrix, at epochs 0 and 1
  CHECK(start == 0);                      // a common start
  // Σσ² = ‖x_1 − x_0‖² over the weight matrices; 4·consensus is the same over all parameters, biases included
  // (the consensus of 2 workers is ‖x_1 − x_0‖²/4).
  const double whole = 4 * rows[1][6];
  CHECK(trained <= whole * (1 + 1e-5));
  CHECK(trained > 0.98 * whole);
  std::filesystem::remove(path);
}

TEST_CASE("--compute-time and --slow pace the steps and leave a synchronous run's numbers as they are") {
  if (!have_data()) return;
  // 4 workers, 640 images, batch 8: 20 steps in the epoch.
  const std::string flags = "--algorithm allreduce --workers 4 --batch 8 --epochs 1 --train-samples 640 "
                            "--test-samples 200 --eval-every 0.5";
  const result plain = train(flags);
  const result paced = decent::test::run_program(DECENT_TRAIN_PATH, flags + " --compute-time 10 --slow 0.25:3-3");
  REQUIRE_MESSAGE(plain.status == 0, plain.err);
  REQUIRE_MESSAGE(paced.status == 0, paced.err);
  auto a = rows_of(plain), b = rows_of(paced);
  REQUIRE(a.size() == 3);  // epochs 0, 0.5, 1
  CHECK(a[1][0] == 0.5);
  CHECK(a[1][1] == 10);
  CHECK(a[2][1] == 20);
  // All-reduce waits for the slowest worker: 20 steps of at least 3 x 10 ms (the time is the slowest worker's),
  // evaluations left out of the time.
  CHECK(b[2][2] >= 0.6);
  CHECK(b[1][2] >= 0.3);
  CHECK(b[1][2] < b[2][2]);
  for (auto* rows : {&a, &b})
    for (auto& row : *rows) row[2] = 0;
  CHECK(a == b);  // the same model: only the time differs
  // One slower worker of four (round(0.25 x 4)), by the factor asked.
  CHECK(paced.err.find("a step lasts 10 ms; slower workers: ") != std::string::npos);
  const auto listed = paced.err.substr(paced.err.find("slower workers: "));
  CHECK(listed.find("(x3.00)") != std::string::npos);
  CHECK(listed.find(", ") > listed.find('\n'));  // one worker listed
  // Two of four, each with a factor in [2, 4], the same for a seed.
  const std::string two = " --compute-time 1 --slow 0.5:2-4 --epochs 0";
  const result c = decent::test::run_program(DECENT_TRAIN_PATH, flags + two),
               d = decent::test::run_program(DECENT_TRAIN_PATH, flags + two);
  REQUIRE(c.status == 0);
  const auto line = c.err.substr(c.err.find("slower workers: "));
  CHECK(std::count(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(line.find('\n')), 'x') == 2);
  CHECK(c.err == d.err);  // --epochs 0: no timing line on stderr, only the split and the slow workers
  const result none = decent::test::run_program(DECENT_TRAIN_PATH, flags + " --compute-time 1 --slow 1:1-1 --epochs 0");
  CHECK(none.err.find("slower workers: none (every factor is 1)") != std::string::npos);
}

TEST_CASE("--global-budget: asynchronous workers share the run's gradients, and faster ones take more steps") {
  if (!have_data()) return;
  // 4 workers x 20 steps = 80 gradients in all; one worker is 4 times slower (20 ms against 80 ms per step).
  const std::string flags = "--algorithm async-gossip --workers 4 --batch 8 --epochs 1 --train-samples 640 "
                            "--test-samples 200 --eval-every 0.5 --lr 0.05 --global-budget --compute-time 20 "
                            "--slow 0.25:4-4 --patience 1";
  const result r = decent::test::run_program(DECENT_TRAIN_PATH, flags);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const auto rows = rows_of(r);
  REQUIRE(rows.size() == 3);
  // The mean steps per worker: exactly the budget's points (each step takes a ticket from the shared count).
  CHECK(rows[1][1] == 10);
  CHECK(rows[2][1] == 20);
  CHECK(rows[1][0] == 0.5);
  CHECK(rows[2][4] > 0.5);  // it trains
  const auto at = r.err.find("steps per worker ");
  REQUIRE(at != std::string::npos);
  int fewest = 0, most = 0;
  REQUIRE(std::sscanf(r.err.c_str() + at, "steps per worker %d-%d", &fewest, &most) == 2);
  CAPTURE(r.err);
  CHECK(fewest >= 1);
  CHECK(most > fewest);  // the slow worker took fewer steps than the fast ones
}

TEST_CASE("bad flags and a missing data set: one clear line, exit 2 or 1, nothing on stdout") {
  struct bad_case {
    std::string flags, message;
  };
  const std::vector<bad_case> cases{
      {"--algorithm sgd", "unknown --algorithm 'sgd'"},
      {"--workers 0", "--workers must be >= 1"},
      {"--momentum 1", "--momentum must be in [0, 1)"},
      {"--algorithm sgp --topology ring", "give --topology exponential"},
      {"--algorithm d2 --quasi-global-momentum", "applies to --algorithm gossip"},
      {"--algorithm gossip --drop 0.1", "--drop applies to relaysgd"},
      {"--algorithm relaysgd --drop 1", "--drop must be in [0, 1)"},
      {"--algorithm relaysgd-grad --update-reference", "--update-reference applies to relaysgd"},
      {"--spectrum /nonexistent/dir/s.csv", "cannot open --spectrum file"},
      {"--spectrum s.csv --workers 1", "give --workers 2 or more"},
      {"--quasi-global-momentum --algorithm gossip --momentum 0", "give --momentum in (0, 1)"},
      {"--lr nan", "invalid value 'nan' for --lr"},
      {"--eval-every 0", "--eval-every must be > 0"},
      {"--patience 1", "--patience applies to async-gossip"},
      {"--algorithm gossip --global-budget", "--global-budget applies to async-gossip"},
      {"--algorithm a2cid2 --global-budget --launch mpi", "--global-budget needs --launch inprocess"},
      {"--slow 0.25:2-5", "--slow needs --compute-time"},
      {"--compute-time 5 --slow 0.25", "expected FRACTION:MIN-MAX"},
      {"--compute-time 5 --slow 0:2-5", "--slow FRACTION must be in (0, 1]"},
      {"--compute-time 5 --slow 0.5:5-2", "1 <= MIN <= MAX <= 1000"},
      {"--compute-time -1", "--compute-time must be in [0, 1e6] ms"},
      {"--algorithm a2cid2 --patience -1", "--patience must be in [0, 1e6] ms"},
      {"--compute-time 5 --slow 0.25:x-5", "invalid value 'x' for --slow MIN"},
      {"--eval-every -1", "--eval-every must be > 0"},
      {"--alpha -1", "--alpha must be > 0"},
      {"--rank 2", "--rank, --iterations and --no-warm-start apply to powergossip and a2cid2-low-rank"},
      {"--algorithm gossip --rate 2", "--rate and --wall-clock apply to"},
      {"--algorithm choco --compressor topk:2", "0 < FRACTION <= 1"},
      {"--backend tpu", "unknown --backend 'tpu'"},
      {"--hidden 256,0", "--hidden widths must be >= 1"},
      {"--frobnicate", "unknown flag '--frobnicate'"},
      {"--algorithm relaysgd --topology ring --train-samples 100 --test-samples 10 --epochs 0", "topology ring:16 is not a tree"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.flags);
    const result r = train(c.flags);
    CHECK(r.status == 2);
    CHECK(r.err.rfind("decent-train: ", 0) == 0);
    CHECK(r.err.find(c.message) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  const result missing = train("--data /nonexistent");
  CHECK(missing.status == 1);
  CHECK(missing.out.empty());
  CHECK(missing.err.find("install Debian's package dataset-fashion-mnist") != std::string::npos);
}
