/**
 * Builds the extension for one browser from the single source tree:
 *   vite build --mode chrome  → dist/extension-chrome   (MV3 service worker)
 *   vite build --mode firefox → dist/extension-firefox  (MV3 event page, gecko id)
 * `{{chrome}}.` / `{{firefox}}.` keys in manifest.json select the per-browser parts.
 */
import { readFileSync } from "node:fs";
import { defineConfig } from "vite";
import webExtension from "vite-plugin-web-extension";
import { manifestKeyOf } from "./scripts/packaging/crx3.ts";

/**
 * Release builds sign the CRX with the publisher's secret key (YZT_EXTENSION_KEY_FILE, a PEM file): its
 * public key then replaces the development key in the Chrome manifest, so the extension id follows the
 * key that signs the package. Without it the committed development key (packaging/keys/) applies.
 */
function releaseManifestKey(): string | undefined {
  const file = process.env.YZT_EXTENSION_KEY_FILE;
  return file ? manifestKeyOf(readFileSync(file, "utf8")) : undefined;
}

export default defineConfig(({ mode }) => {
  const target = mode === "firefox" ? "firefox" : "chrome";
  const releaseKey = target === "chrome" ? releaseManifestKey() : undefined;
  return {
    publicDir: "extension/public",
    build: {
      outDir: `dist/extension-${target}`,
      emptyOutDir: true,
      // Readable output: reviewers (and browser stores) can compare it with the source.
      minify: false,
      sourcemap: false,
      target: "es2022",
    },
    plugins: [
      webExtension({
        manifest: "manifest.json",
        browser: target,
        additionalInputs: ["extension/ui/picker.html", "extension/ui/pin.html", "extension/ui/change-pin.html", "extension/ui/consent.html"],
        disableAutoLaunch: true,
        // Validation downloads a schema from the network; this project builds offline.
        skipManifestValidation: true,
        printSummary: false,
        ...(releaseKey ? { transformManifest: (manifest) => ({ ...manifest, key: releaseKey }) } : {}),
      }),
    ],
  };
});
