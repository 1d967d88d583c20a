#include "cli_common.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>

namespace odrgw::tools {

std::shared_ptr<const schemas::schema_set> load_schema_set(const global_options& g) {
  if (g.schema_dir.empty()) return schemas::schema_set::builtin();
  return schemas::schema_set::from_directory(g.schema_dir);
}

std::optional<std::string> read_secret(const std::string& path, std::string_view command,
                                       std::string_view what) {
  auto s = read_input(path, 4096);
  if (!s) return std::nullopt;
  if (s->size() > 4096) {
    std::cerr << command << ": the " << what << " " << path << " is too big\n";
    return std::nullopt;
  }
  while (!s->empty() && (s->back() == '\n' || s->back() == '\r')) s->pop_back();
  if (s->empty()) {
    std::cerr << command << ": the " << what << " " << path << " is empty\n";
    return std::nullopt;
  }
  return s;
}

std::optional<std::string> read_input(const std::string& path, std::size_t max_bytes) {
  std::string data;
  // Read at most one byte past the limit: enough to know the input is too big, no more.
  const std::size_t cap = max_bytes + 1;
  auto slurp = [&](std::istream& in) {
    char buf[64 * 1024];
    while (data.size() < cap && in) {
      in.read(buf, static_cast<std::streamsize>(std::min(sizeof buf, cap - data.size())));
      data.append(buf, static_cast<std::size_t>(in.gcount()));
    }
  };
  if (path == "-") {
    slurp(std::cin);
    if (std::cin.bad()) {
      std::cerr << "odrgw: cannot read standard input\n";
      return std::nullopt;
    }
    return data;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "odrgw: cannot read " << path << "\n";
    return std::nullopt;
  }
  slurp(in);
  if (in.bad()) {
    std::cerr << "odrgw: error reading " << path << "\n";
    return std::nullopt;
  }
  return data;
}

}  // namespace odrgw::tools
