import { describe, expect, it } from "vitest";
import { copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { discoverModules, explicitModulesFrom, realFiles, type FileProbe } from "../../native-host/token/modules.js";

/** Files by path; content "→/other" makes a symlink to /other, and equal contents are copies of one library. */
function fakeFiles(files: Record<string, string>): FileProbe {
  const resolve = (path: string): string => (files[path]?.startsWith("→") ? resolve(files[path]!.slice(1)) : path);
  return {
    identity: (path) => (Object.hasOwn(files, path) && files[resolve(path)] ? `content:${files[resolve(path)]}` : `path:${resolve(path)}`),
    exists: (path) => Object.hasOwn(files, path),
    listDir: (dir) => Object.keys(files).filter((p) => p.startsWith(dir + "/")).map((p) => p.slice(dir.length + 1)),
    readText: (path) => {
      const text = files[path];
      if (text === undefined) throw new Error("ENOENT");
      return text;
    },
  };
}

describe("PKCS#11 module discovery", () => {
  const files = fakeFiles({
    "/usr/share/p11-kit/modules/opensc.module": "module: opensc-pkcs11.so\n",
    "/usr/share/p11-kit/modules/p11-kit-trust.module": "module: p11-kit-trust.so\n",
    "/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so": "",
    "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-trust.so": "",
    "/usr/lib/softhsm/libsofthsm2.so": "",
  });

  it("uses only the explicit module when one is given", () => {
    expect(discoverModules({ explicit: ["/x/vtoken.so"], configModules: ["/y.so"], platform: "linux", files })).toEqual([
      { path: "/x/vtoken.so", source: "explicit" },
    ]);
  });

  it("orders config, p11-kit registrations, then known vendor libraries, skipping trust modules", () => {
    expect(discoverModules({ configModules: ["/opt/vendor/libgm3000.so"], platform: "linux", files })).toEqual([
      { path: "/opt/vendor/libgm3000.so", source: "config" },
      { path: "/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so", source: "p11-kit" },
      { path: "/usr/lib/softhsm/libsofthsm2.so", source: "known" },
    ]);
  });

  it("reads YZT_PKCS11_MODULE as a path list when no --module is given", () => {
    expect(explicitModulesFrom([], { YZT_PKCS11_MODULE: "/a.so:/b.so" })).toEqual(["/a.so", "/b.so"]);
    expect(explicitModulesFrom(["/c.so"], { YZT_PKCS11_MODULE: "/a.so" })).toEqual(["/c.so"]);
  });

  it("offers a library once when it appears under several paths (symlinks, p11-kit's lib dir, vendor copies)", () => {
    const duplicated = fakeFiles({
      "/usr/share/p11-kit/modules/opensc.module": "module: opensc-pkcs11.so\n",
      "/usr/share/p11-kit/modules/softhsm2.module": "module: /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so\n",
      "/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so": "→/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
      "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so": "opensc library bytes",
      "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so": "softhsm library bytes",
      "/usr/lib/softhsm/libsofthsm2.so": "→/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
      "/usr/lib/libgm3000_pkcs11.so": "longmai library bytes",
      "/opt/vendor/copy-of-gm3000.so": "longmai library bytes",
    });
    expect(discoverModules({ configModules: ["/opt/vendor/copy-of-gm3000.so"], platform: "linux", files: duplicated })).toEqual([
      { path: "/opt/vendor/copy-of-gm3000.so", source: "config" },
      { path: "/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so", source: "p11-kit" },
      { path: "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", source: "p11-kit" },
    ]);
  });

  it("tells libraries apart on a real file system by what they are, not where they are", () => {
    const dir = mkdtempSync(join(tmpdir(), "yzt-modules-"));
    try {
      writeFileSync(join(dir, "a.so"), "library A");
      copyFileSync(join(dir, "a.so"), join(dir, "copy-of-a.so"));
      symlinkSync(join(dir, "a.so"), join(dir, "link-to-a.so"));
      writeFileSync(join(dir, "b.so"), "library B");
      const ids = ["a.so", "copy-of-a.so", "link-to-a.so", "b.so", "missing.so"].map((name) => realFiles.identity(join(dir, name)));
      expect(new Set(ids.slice(0, 3)).size).toBe(1);
      expect(ids[3]).not.toBe(ids[0]);
      expect(ids[4]).toBe(`path:${join(dir, "missing.so")}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
