/**
 * The built extension as browsers and stores see it: Firefox's linter (web-ext lint, warnings as errors),
 * a release manifest that reaches only https tax-hall origins, and a strict CSP on extension pages.
 * `npm test` builds first, so these check what would ship.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../scripts/host-process.js";

interface BuiltManifest {
  host_permissions?: string[];
  optional_host_permissions?: string[];
  content_scripts?: { matches?: string[] }[];
  content_security_policy?: { extension_pages?: string };
}

const builds = ["chrome", "firefox"] as const;
const manifestOf = (build: string) => JSON.parse(readFileSync(join(REPO_ROOT, "dist", `extension-${build}`, "manifest.json"), "utf8")) as BuiltManifest;

describe("the built extension", () => {
  it("passes web-ext lint for Firefox with warnings treated as errors", () => {
    const output = execFileSync(join(REPO_ROOT, "node_modules", ".bin", "web-ext"), ["lint", "--source-dir", join(REPO_ROOT, "dist", "extension-firefox"), "--warnings-as-errors", "--output", "json"], {
      encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"],
    });
    const report = JSON.parse(output.slice(output.indexOf("{"))) as { count: number; errors: unknown[]; warnings: unknown[] };
    expect({ errors: report.errors, warnings: report.warnings }).toEqual({ errors: [], warnings: [] });
  }, 60_000);

  for (const build of builds) {
    it(`${build}: every pattern a page can be reached by is https, none is loopback`, () => {
      const manifest = manifestOf(build);
      const patterns = [
        ...(manifest.host_permissions ?? []), ...(manifest.optional_host_permissions ?? []),
        ...(manifest.content_scripts ?? []).flatMap((script) => script.matches ?? []),
      ];
      expect(patterns.length).toBeGreaterThan(0);
      for (const pattern of patterns) {
        expect(pattern).toMatch(/^https:\/\//);
        expect(pattern).not.toMatch(/127\.0\.0\.1|localhost|\[::1\]/);
      }
      expect(manifest.content_scripts!.map((script) => script.matches)).toEqual([
        ["https://*.chinatax.gov.cn/*", "https://*.beijing.gov.cn/*"], ["https://*.chinatax.gov.cn/*", "https://*.beijing.gov.cn/*"],
      ]);
    });

    it(`${build}: extension pages run under a strict Content-Security-Policy`, () => {
      const policy = manifestOf(build).content_security_policy?.extension_pages ?? "";
      expect(policy).toContain("default-src 'none'");
      expect(policy).toContain("script-src 'self'");
      expect(policy).not.toMatch(/unsafe-inline|unsafe-eval|\bhttps?:/);
    });
  }
});
