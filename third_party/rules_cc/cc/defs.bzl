"""Re-exports Bazel's native C++ rules.

Debian's bazel-rules-cc package targets a newer Bazel than bazel-bootstrap 4.2.3, so the
workspace points @rules_cc here instead of downloading it.
"""

cc_binary = native.cc_binary
cc_import = native.cc_import
cc_library = native.cc_library
cc_test = native.cc_test
cc_toolchain = native.cc_toolchain
cc_toolchain_suite = native.cc_toolchain_suite
