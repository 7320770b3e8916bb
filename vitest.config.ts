/**
 * Test layout: test/unit (pure, fast), test/integration (host process + virtual token + OpenSSL),
 * test/e2e (real Chromium and Firefox with the built extension). `npm test` builds first (pretest).
 * One virtual token is provisioned per run (globalSetup) and cloned per test file, so files can lock
 * PINs and pull keys without disturbing each other.
 *
 * Two projects: "pkcs11" runs everything with the host on the virtual keys' PKCS#11 face; "skf" runs the
 * suites that must hold on every key backend again, with the host on the virtual SKF key
 * (YZT_TEST_BACKEND=skf, read by test/support/virtual-token.ts). The files are the same, parametrised.
 */
import { defineConfig } from "vitest/config";

/** Suites whose every promise (picker, login, CMS, removal, PIN rules, change PIN, unlock, envelopes, many keys, XTXApp, renewal) holds on both backends. */
const BOTH_BACKENDS = [
  "test/integration/host.test.ts",
  "test/integration/reliability.test.ts",
  "test/integration/sm2-signing.test.ts",
  "test/integration/many-keys.test.ts",
  "test/integration/xtx-host.test.ts",
  "test/integration/cli.test.ts",
  "test/integration/install.test.ts",
  "test/integration/demo-server.test.ts",
  "test/integration/lifecycle.test.ts",
  "test/e2e/extension.test.ts",
  "test/e2e/security.test.ts",
  "test/e2e/xtx.test.ts",
  "test/e2e/many-keys.test.ts",
  "test/e2e/demo.test.ts",
  "test/e2e/lifecycle.test.ts",
];

/** What an LP64 SKF library must pass: the host's own suites (the browser suites add nothing ABI-wise). */
const LP64_SUITES = [
  "test/integration/host.test.ts",
  "test/integration/reliability.test.ts",
  "test/integration/sm2-signing.test.ts",
  "test/integration/xtx-host.test.ts",
  "test/integration/lifecycle.test.ts",
];

export default defineConfig({
  test: {
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 90_000,
    pool: "forks",
    // Two cores: browsers and SoftHSM are CPU-heavy, so at most two files run at once.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: "pkcs11", include: ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts", "test/e2e/**/*.test.ts"], env: { YZT_TEST_BACKEND: "pkcs11" } },
      },
      { extends: true, test: { name: "skf", include: BOTH_BACKENDS, env: { YZT_TEST_BACKEND: "skf" } } },
      // The host's suites again through an SKF library built with a 64-bit ULONG (飞天's Linux ABI).
      { extends: true, test: { name: "skf-lp64", include: LP64_SUITES, env: { YZT_TEST_BACKEND: "skf", YZT_TEST_SKF_VARIANT: "lp64" } } },
    ],
  },
});
