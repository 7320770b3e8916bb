/**
 * Test layout: test/unit (pure, fast), test/integration (host process + virtual token + OpenSSL),
 * test/e2e (real Chromium and Firefox with the built extension). `npm test` builds first (pretest).
 * One virtual token is provisioned per run (globalSetup) and cloned per test file, so files can lock
 * PINs and pull keys without disturbing each other.
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts", "test/e2e/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 90_000,
    pool: "forks",
    // Two cores: browsers and SoftHSM are CPU-heavy, so at most two files run at once.
    maxWorkers: 2,
  },
});
