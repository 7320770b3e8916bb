import { describe, expect, it } from "vitest";
import { discoverModules, explicitModulesFrom, type FileProbe } from "../../native-host/token/modules.js";

function fakeFiles(files: Record<string, string>): FileProbe {
  return {
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
});
