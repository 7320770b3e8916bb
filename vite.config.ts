/**
 * Builds the extension for one browser from the single source tree:
 *   vite build --mode chrome  → dist/extension-chrome   (MV3 service worker)
 *   vite build --mode firefox → dist/extension-firefox  (MV3 event page, gecko id)
 * `{{chrome}}.` / `{{firefox}}.` keys in manifest.json select the per-browser parts.
 */
import { defineConfig } from "vite";
import webExtension from "vite-plugin-web-extension";

export default defineConfig(({ mode }) => {
  const target = mode === "firefox" ? "firefox" : "chrome";
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
        additionalInputs: ["extension/ui/picker.html", "extension/ui/pin.html", "extension/ui/change-pin.html"],
        disableAutoLaunch: true,
        // Validation downloads a schema from the network; this project builds offline.
        skipManifestValidation: true,
        printSummary: false,
      }),
    ],
  };
});
