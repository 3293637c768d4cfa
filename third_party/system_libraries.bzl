"""Repository rules that expose Debian-packaged libraries to Bazel without any download."""

def _pkg_config_flags(repository_ctx, modules):
    result = repository_ctx.execute(["pkg-config", "--cflags", "--libs"] + modules)
    if result.return_code != 0:
        fail("pkg-config failed for %s: %s (install the Debian -dev packages listed in README.md)" %
             (modules, result.stderr))
    return result.stdout.strip().split(" ")

def _pkg_config_library_impl(repository_ctx):
    flags = [f for f in _pkg_config_flags(repository_ctx, repository_ctx.attr.modules) if f]
    defines = [f[2:] for f in flags if f.startswith("-D")]
    linkopts = [f for f in flags if not f.startswith("-D") and not f.startswith("-I")]
    linkopts += repository_ctx.attr.extra_linkopts
    repository_ctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % repository_ctx.name)
    repository_ctx.file("BUILD.bazel", """\
# Generated from `pkg-config {modules}`; headers live in /usr/include.
cc_library(
    name = "lib",
    defines = {defines},
    linkopts = {linkopts},
    visibility = ["//visibility:public"],
)
""".format(
        modules = " ".join(repository_ctx.attr.modules),
        defines = repr(defines),
        linkopts = repr(linkopts),
    ))

pkg_config_library = repository_rule(
    implementation = _pkg_config_library_impl,
    attrs = {
        "modules": attr.string_list(mandatory = True),
        "extra_linkopts": attr.string_list(),
    },
    local = True,
    doc = "A cc_library named :lib whose flags come from pkg-config for the given modules.",
)

def _plain_system_library_impl(repository_ctx):
    repository_ctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % repository_ctx.name)
    repository_ctx.file("BUILD.bazel", """\
cc_library(
    name = "lib",
    linkopts = {linkopts},
    visibility = ["//visibility:public"],
)
""".format(linkopts = repr(repository_ctx.attr.linkopts)))

plain_system_library = repository_rule(
    implementation = _plain_system_library_impl,
    attrs = {"linkopts": attr.string_list(mandatory = True)},
    local = True,
    doc = "A cc_library named :lib for a system library that ships no pkg-config file.",
)
