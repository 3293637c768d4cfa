// Runs a libFuzzer target without libFuzzer, so a gcc build can test it: replays every file of
// the corpus directories given as arguments, then a bounded batch of mutations of them and of
// random bytes, from a fixed seed so a failure reproduces.
//
//   fuzz_replay_main [--mutations=N] [--seed=S] DIR_OR_FILE...
//
// Exits non-zero when no corpus file was found; a failing check in the target aborts.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void Run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

void ReadCorpus(const std::filesystem::path& path, std::vector<std::string>* corpus) {
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_directory(path)) {
    for (const auto& entry : std::filesystem::directory_iterator(path)) {
      if (entry.is_regular_file()) {
        files.push_back(entry.path());
      }
    }
  } else {
    files.push_back(path);
  }
  for (const std::filesystem::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    corpus->emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
}

// Pieces that are likely to make a mutated input reach deeper code than a random byte would.
constexpr std::string_view kPieces[] = {"_",     "_c_",   "_s_",        "_state_", "_city_",
                                        "_zip_", "_asn_", "_ttl_",      "_strict", "_smartpath",
                                        "us",    "gb",    "4294967295", "24h",     "1m"};

std::string Mutate(std::string input, std::mt19937_64& rng) {
  int steps = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < steps; ++i) {
    size_t at = input.empty() ? 0 : rng() % (input.size() + 1);
    switch (rng() % 4) {
      case 0:  // overwrite a byte with any value
        if (at < input.size()) {
          input[at] = static_cast<char>(rng() & 0xff);
        }
        break;
      case 1:  // insert a known piece
        input.insert(at, kPieces[rng() % std::size(kPieces)]);
        break;
      case 2:  // erase a short range
        input.erase(at, rng() % 8);
        break;
      default:  // duplicate a short range
        input.insert(at, input.substr(at, rng() % 16));
        break;
    }
  }
  return input;
}

}  // namespace

int main(int argc, char** argv) {
  long mutations = 20000;
  uint64_t seed = 1;
  std::vector<std::string> corpus;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.rfind("--mutations=", 0) == 0) {
      mutations = std::strtol(argv[i] + 12, nullptr, 10);
    } else if (arg.rfind("--seed=", 0) == 0) {
      seed = std::strtoull(argv[i] + 7, nullptr, 10);
    } else {
      ReadCorpus(argv[i], &corpus);
    }
  }
  if (corpus.empty()) {
    std::fprintf(stderr, "no corpus files found in the arguments\n");
    return 1;
  }

  for (const std::string& input : corpus) {
    Run(input);
  }
  std::mt19937_64 rng(seed);
  for (long i = 0; i < mutations; ++i) {
    if (i % 4 == 0) {
      std::string random(rng() % 300, '\0');
      for (char& c : random) {
        c = static_cast<char>(rng() & 0xff);
      }
      Run(random);
    } else {
      Run(Mutate(corpus[rng() % corpus.size()], rng));
    }
  }
  std::printf("replayed %zu corpus files and %ld generated inputs\n", corpus.size(), mutations);
  return 0;
}
