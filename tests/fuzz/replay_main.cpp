// Runs a fuzz harness on files (or every file of directories) without libFuzzer: the seed corpus as a regular
// test with any compiler, and a way to replay a crash input. Exit 0 when every input passed.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "fuzz_target.hpp"

int main(int argc, char** argv) {
  std::size_t inputs = 0;
  const auto one = [&](const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    ++inputs;
  };
  for (int k = 1; k < argc; ++k) {
    const std::filesystem::path p(argv[k]);
    if (std::filesystem::is_directory(p)) {
      for (const auto& entry : std::filesystem::directory_iterator(p))
        if (entry.is_regular_file()) one(entry.path());
    } else {
      one(p);
    }
  }
  std::printf("%zu inputs replayed, no finding\n", inputs);
  return inputs > 0 ? 0 : 1;
}
