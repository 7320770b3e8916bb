/**
 * The server kit's place in the layout (DESIGN.md): it is the package's main export; it imports the
 * contract (protocol/) and the shared crypto code (crypto/) only; the extension and the native
 * host never import it (the extension runs in browsers, the host on users' machines, the kit on sites' servers).
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../scripts/host-process.js";

function sourceFiles(dir: string): string[] {
  return readdirSync(join(REPO_ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|js|mjs)$/.test(entry.name) && !entry.name.endsWith(".d.ts"))
    .map((entry) => relative(REPO_ROOT, join(entry.parentPath, entry.name)));
}

/** The repository paths a file's relative imports (static and dynamic) point at. */
function importedPaths(file: string): string[] {
  const text = readFileSync(join(REPO_ROOT, file), "utf8");
  const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*)["'](\.[^"']+)["']/g)].map((match) => match[1]!);
  return specifiers.map((specifier) => relative(REPO_ROOT, resolve(REPO_ROOT, dirname(file), specifier)));
}

describe("the server kit's layering", () => {
  it("is the package's main export", () => {
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { main: string; types: string; exports: Record<string, { default: string; types: string }> };
    expect(manifest.main).toBe("dist/server/index.js");
    expect(manifest.types).toBe("dist/server/index.d.ts");
    expect(manifest.exports["."]).toEqual({ types: "./dist/server/index.d.ts", default: "./dist/server/index.js" });
  });

  it("imports only server/, protocol/ and crypto/", () => {
    const outside = sourceFiles("server").flatMap((file) => importedPaths(file).filter((path) => !/^(server|protocol|crypto)\//.test(path)).map((path) => `${file} → ${path}`));
    expect(outside).toEqual([]);
  });

  it("depends on crypto/, which imports only itself and protocol/ (never the desktop host)", () => {
    const outside = sourceFiles("crypto").flatMap((file) => importedPaths(file).filter((path) => !/^(crypto|protocol)\//.test(path)).map((path) => `${file} → ${path}`));
    expect(outside).toEqual([]);
  });

  it("is imported by neither the extension nor the native host", () => {
    const intoKit = [...sourceFiles("extension"), ...sourceFiles("native-host")].flatMap((file) => importedPaths(file).filter((path) => path.startsWith("server/")).map((path) => `${file} → ${path}`));
    expect(intoKit).toEqual([]);
  });
});
