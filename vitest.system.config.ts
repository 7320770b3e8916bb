/**
 * The package tests (test/system): they install yzt-bridge system-wide with dpkg, so they run after the
 * other suites, one file at a time, never beside a browser of another test.
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/system/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 600_000,
    pool: "forks",
    maxWorkers: 1,
  },
});
