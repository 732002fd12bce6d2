// The rooms of the code and which way imports may point (ARCHITECTURE.md). Run by `npm test`.
// Pure rooms compute from data they are given; only io/, image/ readers, cli/ and generator/ touch the system.
const PURE = "^src/(plan|unit|portable|config)/";
module.exports = {
  forbidden: [
    { name: "no-circular", severity: "error", from: {}, to: { circular: true } },
    {
      name: "pure-rooms-do-no-io",
      comment: "plan, unit, portable and config are pure: no node: modules, no io/, cli/ or generator/.",
      severity: "error",
      from: { path: PURE },
      to: { path: "^(node:|fs$|path$|child_process$|os$|src/(io|cli)/|generator/)", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "image-is-a-leaf",
      comment: "image readers know bytes and file systems, nothing of portable services or the product.",
      severity: "error",
      from: { path: "^src/image/" },
      to: { path: "^src/(io|cli|plan|unit|portable|config)/|^generator/" },
    },
    {
      name: "common-imports-nothing",
      comment: "src/common holds helpers every room may use; it depends on no room and does no I/O.",
      severity: "error",
      from: { path: "^src/common/" },
      to: { pathNot: "^src/common/" },
    },
    {
      name: "no-upward-imports",
      comment: "io serves cli and generator; nothing below imports them.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/cli/" },
      to: { path: "^src/cli/|^generator/" },
    },
    {
      name: "ini-only-behind-its-adapter",
      severity: "error",
      from: { pathNot: "^src/config/ini\\.ts$" },
      to: { path: "node_modules/ini/" },
    },
    {
      name: "fzstd-only-in-its-decompressor",
      severity: "error",
      from: { pathNot: "^src/image/decompress/zstd\\.ts$" },
      to: { path: "node_modules/fzstd/" },
    },
    {
      name: "no-tests-in-product",
      severity: "error",
      from: { path: "^(src|generator)/" },
      to: { path: "^(test|bench)/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".mjs", ".js"] },
  },
};
