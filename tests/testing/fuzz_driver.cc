// A stand-in for libFuzzer's main, so fuzz targets run as ordinary tests under gcc and the
// sanitizer configs: replays every file of the seed corpus directories given as arguments, then
// a bounded batch of deterministic random mutations of them.
//
//   fuzz_driver [--mutations=N] [--seconds=S] [--seed=X] DIR...
//
// It stops after N mutated inputs or S seconds, whichever comes first, and fails (exit 1) when a
// corpus directory is empty or unreadable. A crash or failed check in the target aborts it, which
// fails the test. The real fuzzer (`--config=fuzz`, tools/fuzz.sh) explores far more; this keeps
// every corpus input and the target's invariants checked on every CI run.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// Byte strings that matter to the codecs: line ends, separators, versions, boundaries.
const char* const kInteresting[] = {
    "\r\n",
    "\r\n\r\n",
    "\n",
    "\r",
    ":",
    " ",
    "\t",
    "\0",
    "\xff",
    "[",
    "]",
    "@",
    "/",
    "?",
    "#",
    "0",
    "65535",
    "65536",
    "HTTP/1.1",
    "CONNECT ",
    "http://",
    "Content-Length: ",
    "Transfer-Encoding: chunked",
    "Proxy-Authorization: Basic ",
    "Connection: ",
    "\x05",
    "\x01",
    "\x03",
    "\x04",
    "PROXY ",
    "TCP4 ",
    "TCP6 ",
    "UNKNOWN",
    "::",
    "127.0.0.1",
    "==",
};

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

void Run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

std::string Mutate(const std::vector<std::string>& corpus, std::mt19937_64& rng) {
  auto pick = [&rng](size_t bound) {
    return bound == 0 ? size_t{0} : static_cast<size_t>(rng() % bound);
  };
  std::string input = corpus[pick(corpus.size())];
  int steps = 1 + static_cast<int>(pick(4));
  for (int step = 0; step < steps; ++step) {
    size_t at = pick(input.size() + 1);
    switch (pick(8)) {
      case 0:  // flip a bit
        if (!input.empty()) {
          input[pick(input.size())] ^= static_cast<char>(1u << pick(8));
        }
        break;
      case 1:  // overwrite a byte
        if (!input.empty()) {
          input[pick(input.size())] = static_cast<char>(pick(256));
        }
        break;
      case 2:  // insert random bytes
        input.insert(at, std::string(1 + pick(4), static_cast<char>(pick(256))));
        break;
      case 3:  // delete a range
        input.erase(at, 1 + pick(8));
        break;
      case 4:  // duplicate a range
        input.insert(at, input.substr(pick(input.size() + 1), pick(16)));
        break;
      case 5: {  // insert a meaningful token
        const char* token = kInteresting[pick(std::size(kInteresting))];
        input.insert(at, std::string(token, std::strlen(token) == 0 ? 1 : std::strlen(token)));
        break;
      }
      case 6:  // truncate
        input.resize(at);
        break;
      default: {  // splice with another input
        const std::string& other = corpus[pick(corpus.size())];
        input = input.substr(0, at) + other.substr(pick(other.size() + 1));
        break;
      }
    }
  }
  return input;
}

}  // namespace

int main(int argc, char** argv) {
  long mutations = 20000;
  double seconds = 30;
  uint64_t seed = 0x5eed5eed;
  std::vector<std::string> corpus;
  for (int i = 1; i < argc; ++i) {
    std::string argument = argv[i];
    if (argument.rfind("--mutations=", 0) == 0) {
      mutations = std::stol(argument.substr(12));
    } else if (argument.rfind("--seconds=", 0) == 0) {
      seconds = std::stod(argument.substr(10));
    } else if (argument.rfind("--seed=", 0) == 0) {
      seed = std::stoull(argument.substr(7));
    } else {
      std::error_code error;
      size_t before = corpus.size();
      for (const auto& entry : std::filesystem::directory_iterator(argument, error)) {
        if (entry.is_regular_file()) {
          corpus.push_back(ReadFile(entry.path()));
        }
      }
      if (error || corpus.size() == before) {
        std::fprintf(stderr, "fuzz_driver: no corpus files in %s\n", argument.c_str());
        return 1;
      }
    }
  }
  if (corpus.empty()) {
    std::fprintf(stderr, "usage: %s [--mutations=N] [--seconds=S] [--seed=X] DIR...\n", argv[0]);
    return 1;
  }

  for (const std::string& input : corpus) {
    Run(input);
  }

  std::mt19937_64 rng(seed);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  long executed = 0;
  for (; executed < mutations; ++executed) {
    if (executed % 256 == 0 && std::chrono::steady_clock::now() > deadline) {
      break;
    }
    Run(Mutate(corpus, rng));
  }
  std::printf("fuzz_driver: %zu corpus inputs, %ld mutations, seed %llu\n", corpus.size(), executed,
              static_cast<unsigned long long>(seed));
  return 0;
}
