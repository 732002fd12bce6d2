import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Image fuzzing and bundle smoke tests spawn processes; keep the 2-core machine responsive.
    maxWorkers: 2,
    testTimeout: 60_000,
    // Hooks too: removing a scratch tree of thousands of files takes more than the default 10 s
    // on a loaded machine.
    hookTimeout: 60_000,
    // The default summary, then every skipped test with its reason.
    reporters: ["default", "./test/helpers/skip-reporter.ts"],
  },
});
