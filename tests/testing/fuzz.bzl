"""strait_fuzz_test: one fuzz target, run two ways.

For a unit `<name>` whose `<name>_fuzz_test.cc` defines LLVMFuzzerTestOneInput:
- `<name>_fuzz_test`: a cc_test linking the target with tests/testing/fuzz_driver.cc, which
  replays the seed corpus and a bounded batch of random mutations; runs in `bazel test //...`.
- `<name>_fuzzer`: the libFuzzer binary; tagged manual, built with `--config=fuzz` (clang,
  -fsanitize=fuzzer,address,undefined). tools/fuzz.sh runs it.

`corpus` is a directory of seed inputs inside the calling package.
"""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_library", "cc_test")

def strait_fuzz_test(name, deps, corpus, mutations = 100000):
    cc_library(
        name = name + "_fuzz_target",
        testonly = True,
        srcs = [name + "_fuzz_test.cc"],
        deps = deps,
        alwayslink = True,
    )
    cc_test(
        name = name + "_fuzz_test",
        args = [
            "--mutations=%d" % mutations,
            "--seconds=30",
            native.package_name() + "/" + corpus,
        ],
        data = native.glob([corpus + "/*"]),
        deps = [
            ":" + name + "_fuzz_target",
            "//tests/testing:fuzz_driver",
        ],
    )
    cc_binary(
        name = name + "_fuzzer",
        testonly = True,
        tags = ["manual"],
        deps = [":" + name + "_fuzz_target"],
    )
