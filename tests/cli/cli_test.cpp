// decent-sim as a user runs it: the binary in a subprocess, its CSV, its JSON, its errors.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>
#include <sstream>
#include <string>
#include <vector>

#include "cli/subprocess.hpp"

#ifndef DECENT_SIM_PATH
#error "DECENT_SIM_PATH must name the decent-sim binary"
#endif

namespace {

using decent::test::csv;
using decent::test::result;

result run(const std::string& args) { return decent::test::run_program(DECENT_SIM_PATH, args); }

/// The number after "key": in a flat JSON object.
double json_number(const std::string& json, const std::string& key) {
  const auto at = json.find("\"" + key + "\":");
  REQUIRE_MESSAGE(at != std::string::npos, "missing key " << key << " in " << json);
  return std::stod(json.substr(at + key.size() + 3));
}

}  // namespace

TEST_CASE("--describe ring:8 prints the A2CiD2 constants of docs/algorithms.md and the spectral gap of (I+L+R)/3") {
  const result r = run("--topology ring:8 --describe");
  REQUIRE(r.status == 0);
  CHECK(r.err.empty());
  CHECK(json_number(r.out, "n") == 8);
  CHECK(json_number(r.out, "edges") == 8);
  CHECK(json_number(r.out, "max_degree") == 2);
  CHECK(json_number(r.out, "diameter") == 4);
  CHECK(r.out.find("\"is_tree\": false") != std::string::npos);
  CHECK(json_number(r.out, "chi1") == doctest::Approx(3.41421).epsilon(3e-6));
  CHECK(json_number(r.out, "chi2") == doctest::Approx(0.875).epsilon(1e-6));
  CHECK(json_number(r.out, "eta") == doctest::Approx(0.289281).epsilon(3e-6));
  CHECK(json_number(r.out, "alpha_tilde") == doctest::Approx(0.987669).epsilon(1e-6));
  CHECK(json_number(r.out, "spectral_gap") == doctest::Approx(1 - (1 + std::sqrt(2.0)) / 3).epsilon(1e-9));
  CHECK(json_number(r.out, "algebraic_connectivity") == doctest::Approx(2 - std::sqrt(2.0)).epsilon(1e-9));
  // The rate scales eta, not alpha_tilde.
  const result r2 = run("--topology ring:8 --describe --rate 2");
  CHECK(json_number(r2.out, "eta") == doctest::Approx(2 * 0.289281).epsilon(3e-6));
  CHECK(json_number(r2.out, "alpha_tilde") == doctest::Approx(0.987669).epsilon(1e-6));
}

TEST_CASE("--describe of a tree reports is_tree and its diameter") {
  const result r = run("--topology binary-tree:16 --describe");
  REQUIRE(r.status == 0);
  CHECK(r.out.find("\"is_tree\": true") != std::string::npos);
  CHECK(json_number(r.out, "diameter") == 6);
  CHECK(json_number(r.out, "edges") == 15);
}

TEST_CASE("gossip on ring:8: relative consensus falls each step at the rate W's spectrum predicts") {
  const result r = run("--algorithm gossip --topology ring:8 --problem consensus --shape 100x100 --gamma 1 --steps 60");
  REQUIRE(r.status == 0);
  const auto rows = csv(r.out);
  REQUIRE(rows.size() == 62);
  CHECK(r.out.substr(0, r.out.find('\n')) == "step,time,consensus,relative_consensus,loss,bytes_per_worker");
  CHECK(std::stod(rows[1][3]) == 1.0);
  const double lambda2 = (1 + 2 * std::cos(std::numbers::pi / 4)) / 3;
  for (std::size_t t = 1; t <= 60; ++t) {
    const double ratio = std::stod(rows[t + 1][3]) / std::stod(rows[t][3]);
    CHECK(ratio < 1.0);  // falls every step
    if (t >= 30) CHECK(ratio == doctest::Approx(lambda2 * lambda2).epsilon(1e-3));  // f32 state
  }
  CHECK(std::stod(rows[61][3]) < 1e-9);
  // Two neighbours, 10,000 f32 values each, every step.
  CHECK(std::stod(rows[61][5]) == 60.0 * 2 * 10000 * 4);
  CHECK(rows[61][4].empty());  // consensus has no loss
}

TEST_CASE("allreduce: relative consensus is 0 after one step") {
  for (const char* precision : {"f32", "f64"}) {
    const result r = run(std::string("--algorithm allreduce --topology ring:8 --problem consensus --shape 50x20 --steps 2 "
                                     "--precision ") + precision);
    REQUIRE(r.status == 0);
    const auto rows = csv(r.out);
    REQUIRE(rows.size() == 4);
    CHECK(std::stod(rows[1][3]) == 1.0);
    CHECK(std::abs(std::stod(rows[2][3])) <= 1e-12);
  }
}

TEST_CASE("quadratic and logistic runs report a falling loss, --every and --csv shape the output") {
  const result q = run("--algorithm gossip --topology torus:3x3 --problem quadratic --steps 50 --lr 0.3 --every 10");
  REQUIRE(q.status == 0);
  const auto rows = csv(q.out);
  REQUIRE(rows.size() == 7);  // header + steps 0,10,...,50
  CHECK(std::stod(rows[6][4]) < std::stod(rows[1][4]));
  CHECK(rows[1][3].empty());  // x = 0 everywhere at the start: no relative consensus
  const result l = run("--algorithm allreduce --topology ring:4 --problem logistic --steps 20 --lr 0.5 --every 20 "
                       "--csv cli_test_out.csv");
  REQUIRE(l.status == 0);
  CHECK(l.out.empty());
  std::ifstream file("cli_test_out.csv");
  std::stringstream ss;
  ss << file.rdbuf();
  const auto lrows = csv(ss.str());
  REQUIRE(lrows.size() == 3);
  CHECK(std::stod(lrows[2][4]) < std::stod(lrows[1][4]));
}

TEST_CASE("--timing adds one line on stderr (set-up, time per step, peak memory) and leaves stdout as it was") {
  const std::string args = "--algorithm relaysgd --topology binary-tree:7 --dim 100 --steps 4";
  const result plain = run(args), timed = run(args + " --timing");
  REQUIRE(timed.status == 0);
  CHECK(timed.out == plain.out);
  CHECK(plain.err.empty());
  CHECK(timed.err.rfind("decent-sim: set-up ", 0) == 0);
  CHECK(timed.err.find(" s, then 4 steps in ") != std::string::npos);
  CHECK(timed.err.find(" s per step), peak resident memory ") != std::string::npos);
  CHECK(std::count(timed.err.begin(), timed.err.end(), '\n') == 1);
  const result events = run("--algorithm a2cid2 --topology ring:6 --time 2 --timing");
  REQUIRE(events.status == 0);
  CHECK(events.err.find("then virtual time 2 in ") != std::string::npos);
  CHECK(events.err.find(" s per unit of time), peak resident memory ") != std::string::npos);
}

TEST_CASE("the same seed reproduces a run bit for bit") {
  const std::string args = "--algorithm gossip --topology random-regular:12:3:5 --problem quadratic --noise 0.1 "
                           "--steps 30 --precision f64 --seed 3";
  CHECK(run(args).out == run(args).out);
  CHECK(run(args).out != run(args + "1").out);
}

/// decent-sim refuses `args`: exit 2, one line on stderr that starts with "decent-sim: " and contains `expected`,
/// nothing on stdout (no partial CSV).
static void check_refused(const std::string& args, const std::string& expected) {
  CAPTURE(args);
  const result r = run(args);
  CHECK(r.status == 2);
  CHECK(r.err.find(expected) != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);  // one line
  CHECK(r.err.rfind("decent-sim: ", 0) == 0);
  CHECK(r.out.empty());
}

TEST_CASE("bad input: one clear line on stderr and a non-zero exit, never a crash or a hang") {
  std::ofstream("cli_test_disconnected.txt") << "# two components\n0 1\n2 3\n";
  std::ofstream("cli_test_bad_line.txt") << "0 1\n1 x\n";
  const std::map<std::string, std::string> cases = {
      {"--algorithm sgd", "unknown --algorithm"},
      {"--algorithm choco --compressor topk:0", "topk:FRACTION"},
      {"--algorithm powergossip --rank 0", "--rank"},
      {"--algorithm powergossip --iterations 0", "--iterations"},
      {"--algorithm relaysgd --topology ring:8", "bfs:0:ring:8"},
      {"--algorithm relaysgd-grad --topology torus:3x3", "double-binary-tree:N"},
      {"--algorithm relaysgd --topology one-peer-exponential:8", "binary-tree:N"},
      {"--seed -1", "--seed"},
      {"--topology ring:2000000000", "too large"},
      {"--topology torus:50000x50000", "torus"},
      {"--algorithm a2cid2 --topology one-peer-exponential:8 --time 5", "static topology"},
      {"--algorithm a2cid2 --steps 5", "--time"},
      {"--algorithm async-gossip --time -1", "--time"},
      {"--algorithm a2cid2 --rank 2 --time 1", "powergossip and a2cid2-low-rank only"},
      {"--algorithm a2cid2-low-rank --steps 5", "--time"},
      {"--algorithm a2cid2-low-rank --rank 0 --time 1", "--rank must be >= 1"},
      {"--topology ring:8:2", "ring:8:2"},
      {"--topology ring", "ring"},
      {"--topology ring:0", "ring:0"},
      {"--topology ring:abc", "ring:abc"},
      {"--topology hypercube:6", "power of"},
      {"--topology mesh:4", "mesh:4"},
      {"--topology torus:3", "torus:3"},
      {"--topology random-regular:5:3", "random-regular:5:3"},
      {"--topology edges:cli_test_disconnected.txt", "connected"},
      {"--topology edges:cli_test_bad_line.txt", "cli_test_bad_line.txt:2"},
      {"--topology edges:/nonexistent/graph.txt", "/nonexistent/graph.txt"},
      {"--steps -3", "--steps"},
      {"--steps ten", "--steps"},
      {"--lr", "needs a value"},
      {"--frobnicate 1", "unknown flag"},
      {"--problem images", "unknown --problem"},
      {"--precision f16", "--precision"},
      {"--shape 10x0", "--shape"},
      {"--shape 10xx3", "--shape"},
      {"--problem quadratic --shape 10x10", "--shape applies"},
      {"--algorithm gossip --time 3", "--time"},
      {"--algorithm gossip --rank 2", "--rank"},
      {"--gamma 0", "--gamma"},
      {"--every 0", "--every"},
      {"--momentum 1", "--momentum"},
      {"--csv /nonexistent/dir/out.csv", "--csv"},
      {"--topology ring:9 --describe --rate -1", "rate"},
      {"--algorithm sgp --topology ring:8", "give --topology exponential:N (got ring:8)"},
      {"--algorithm sgp --topology exponential:8 --gamma 0.5", "sgp has no diffusion rate"},
      {"--quasi-global-momentum", "give --momentum in (0, 1)"},
      {"--algorithm d2 --quasi-global-momentum --momentum 0.9", "applies to --algorithm gossip only"},
      {"--algorithm d2 --topology one-peer-exponential:8", "d2 needs a static topology"},
  };
  for (const auto& [args, expected] : cases) check_refused(args, expected);
}

TEST_CASE("relaysgd and relaysgd-grad run on every tree topology") {
  std::ofstream("cli_test_tree.txt") << "0 1\n1 2\n1 3\n3 4\n";
  for (const char* algorithm : {"relaysgd", "relaysgd-grad"}) {
    for (const char* topology : {"chain:6", "binary-tree:9", "double-binary-tree:9", "star:5", "bfs:2:torus:3x3",
                                 "bfs:0:random-regular:10:3:4", "edges:cli_test_tree.txt"}) {
      CAPTURE(algorithm);
      CAPTURE(topology);
      const result r = run(std::string("--algorithm ") + algorithm + " --topology " + topology +
                           " --problem quadratic --heterogeneity 1 --steps 200 --lr 0.5 --every 200 --precision f64");
      REQUIRE(r.status == 0);
      const auto rows = csv(r.out);
      REQUIRE(rows.size() == 3);
      CHECK(std::stod(rows[2][4]) < 1e-3 * std::stod(rows[1][4]));
    }
  }
}

TEST_CASE("d2 and gradient-tracking reach the optimum of heterogeneous quadratics where gossip stops short") {
  const auto final_loss = [](const std::string& algorithm) {
    const result r = run("--algorithm " + algorithm + " --topology ring:8 --problem quadratic --heterogeneity 1 "
                         "--steps 300 --lr 0.3 --every 300 --precision f64");
    REQUIRE_MESSAGE(r.status == 0, r.err);
    const auto rows = csv(r.out);
    REQUIRE(rows.size() == 3);
    return std::stod(rows[2][4]);
  };
  const double gossip = final_loss("gossip");
  CHECK(gossip > 1e-3);  // D-PSGD's plateau at a constant step (heterogeneity 1)
  CHECK(std::abs(final_loss("d2")) < 1e-12);
  CHECK(std::abs(final_loss("gradient-tracking")) < 1e-12);
}

TEST_CASE("sgp and gossip with quasi-global momentum train: the loss falls by orders of magnitude") {
  for (const char* args : {"--algorithm sgp --topology exponential:16 --lr 0.3",
                           "--algorithm gossip --quasi-global-momentum --momentum 0.9 --topology ring:8 --lr 0.05"}) {
    CAPTURE(args);
    const result r = run(std::string(args) + " --problem quadratic --steps 300 --every 300 --precision f64");
    REQUIRE_MESSAGE(r.status == 0, r.err);
    const auto rows = csv(r.out);
    REQUIRE(rows.size() == 3);
    CHECK(std::stod(rows[2][4]) < 1e-5 * std::stod(rows[1][4]));
  }
  // SGP: two one-peer exchanges per step, 10 f64 values each.
  const auto rows = csv(run("--algorithm sgp --topology exponential:16 --problem quadratic --steps 3 --every 3").out);
  REQUIRE(rows.size() == 3);
  CHECK(std::stod(rows[2][5]) == 3 * 2 * 10 * 4);
}

TEST_CASE("--help lists the flags and exits 0") {
  const result r = run("--help");
  CHECK(r.status == 0);
  CHECK(r.out.find("--algorithm") != std::string::npos);
}

TEST_CASE("a diverging run stops at its first non-finite row with one clear line and exit status 1") {
  const result r = run("--algorithm gossip --topology ring:8 --problem quadratic --lr 100 --steps 200");
  CHECK(r.status == 1);
  CHECK(r.err.rfind("decent-sim: the run diverged at step ", 0) == 0);
  CHECK(r.err.find("lower --lr") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  // Every row printed before the error is finite.
  const auto rows = csv(r.out);
  REQUIRE(rows.size() >= 2);
  for (std::size_t k = 1; k < rows.size(); ++k)
    for (const auto& field : rows[k]) CHECK(field.find("nan") == std::string::npos);
  const result fine = run("--algorithm gossip --topology ring:8 --problem quadratic --lr 0.1 --steps 20");
  CHECK(fine.status == 0);
}

TEST_CASE("--describe escapes control characters of a file name: the output stays one JSON line") {
  const std::string path = (std::filesystem::temp_directory_path() / "decent\x01name\tx.txt").string();
  std::ofstream(path) << "0 1\n1 2\n2 0\n";
  const result r = run("--topology 'edges:" + path + "' --describe");
  std::filesystem::remove(path);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("decent\\u0001name\\u0009x.txt") != std::string::npos);
  CHECK(std::count_if(r.out.begin(), r.out.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }) == 1);
  CHECK(r.out.back() == '\n');
}

TEST_CASE("costs without bounds are refused up front: virtual time and power iterations") {
  const result t = run("--algorithm async-gossip --topology ring:8 --problem quadratic --time 1e300");
  CHECK(t.status == 2);
  CHECK(t.err.find("more than the 1e+09 a run may simulate") != std::string::npos);
  const result i = run("--algorithm powergossip --topology ring:8 --shape 10x10 --iterations 2147483647 --steps 1");
  CHECK(i.status == 2);
  CHECK(i.err.find("low_rank_options::iterations must be in [1, 1000], got 2147483647") != std::string::npos);
  const result s = run("--shape 4294967297x4294967295,3 --steps 1");
  CHECK(s.status == 2);  // not 2 parameters
  CHECK(s.err.find("overflows") != std::string::npos);
  CHECK(s.out.empty());
}

TEST_CASE("memory, dense analyses, threads and problem costs are bounded with one clear line") {
  struct refused {
    const char* args;
    const char* expected;
  };
  const refused cases[] = {
      // 16 workers x 2e9 parameters: refused before anything is allocated (the estimate names the limit).
      {"--dim 2000000000", "of this machine's memory"},
      {"--dim 1000000 --max-memory 100M", "more than the 0.0977 GiB of --max-memory"},
      {"--dim 10 --max-memory 12Q", "--max-memory"},
      {"--dim 10 --max-memory -1", "--max-memory must be > 0"},
      {"--algorithm a2cid2 --topology ring:3000 --time 1", "at most 2048 workers"},
      {"--topology torus:1024x1024 --steps 1", "one thread per worker, at most 32768"},
      {"--problem quadratic --dim 1000", "lower the dimension"},
      {"--algorithm choco --gamma 5", "choco_options::gamma (the consensus step size) must be in (0, 1], got 5"},
      {"--algorithm gossip --gamma 2", "gossip_options::gamma (the diffusion rate) must be in (0, 2), got 2"},
      {"--algorithm relaysgd --topology binary-tree:8 --gamma 0.5", "--gamma applies to gossip, powergossip, choco, d2 and gradient-tracking"},
  };
  for (const auto& [args, expected] : cases) check_refused(args, expected);
  // Under the limit the same estimate lets the run go.
  CHECK(run("--dim 1000 --max-memory 2M --steps 2").status == 0);
}

TEST_CASE("--describe of large graphs: dense keys are null above 2048 workers, the diameter above its cost") {
  const result ring = run("--topology ring:4000 --describe");
  REQUIRE(ring.status == 0);
  CHECK(ring.out.find("\"n\": 4000") != std::string::npos);
  CHECK(ring.out.find("\"diameter\": 2000") != std::string::npos);  // O(n·|E|) = 3.2e7: computed
  CHECK(ring.out.find("\"spectral_gap\": null") != std::string::npos);
  CHECK(ring.out.find("\"chi1\": null") != std::string::npos);
  const result torus = run("--topology torus:1024x1024 --describe");
  REQUIRE(torus.status == 0);
  CHECK(torus.out.find("\"edges\": 2097152") != std::string::npos);
  CHECK(torus.out.find("\"diameter\": null") != std::string::npos);
  // The largest dense size still gets every key.
  const result at_limit = run("--topology complete:64 --describe");
  CHECK(at_limit.out.find("null") == std::string::npos);
}

TEST_CASE("--describe at extreme rates: the A2CiD2 constants scale as 1/r exactly (no singular matrix)") {
  const auto chi1 = [](const std::string& out) { return json_number(out, "chi1"); };
  const result one = run("--topology ring:8 --describe --rate 1");
  const result tiny = run("--topology ring:8 --describe --rate 1e-300");
  const result huge = run("--topology ring:8 --describe --rate 1e300");
  REQUIRE(one.status == 0);
  REQUIRE(tiny.status == 0);
  REQUIRE(huge.status == 0);
  CHECK(chi1(tiny.out) == doctest::Approx(chi1(one.out) * 1e300).epsilon(1e-9));
  CHECK(chi1(huge.out) == doctest::Approx(chi1(one.out) * 1e-300).epsilon(1e-9));
  CHECK(tiny.out.find("\"alpha_tilde\": 0.987668764946") != std::string::npos);  // independent of r
}
