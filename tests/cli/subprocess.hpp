#pragma once
// Running a binary of the project as a user does, in a subprocess: its exit status, stdout and stderr; and
// reading its CSV.

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace decent::test {

struct result {
  int status = -1;
  std::string out, err;
};

/// Runs `program args` and collects its exit status, stdout and stderr.
inline result run_program(const std::string& program, const std::string& args) {
  // ctest runs test cases of this binary in parallel processes: every call gets its own stderr file.
  static int calls = 0;
  const std::string err_file = "subprocess_stderr_" + std::to_string(getpid()) + "_" + std::to_string(calls++) + ".txt";
  const std::string cmd = program + " " + args + " 2>" + err_file;
  result r;
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe)) r.out += buffer;
  const int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  std::ifstream err(err_file);
  std::stringstream ss;
  ss << err.rdbuf();
  r.err = ss.str();
  std::remove(err_file.c_str());
  return r;
}

/// The comma-separated fields of every line.
inline std::vector<std::vector<std::string>> csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (std::size_t comma; (comma = line.find(',', start)) != std::string::npos; start = comma + 1)
      fields.push_back(line.substr(start, comma - start));
    fields.push_back(line.substr(start));
    rows.push_back(fields);
  }
  return rows;
}

}  // namespace decent::test
