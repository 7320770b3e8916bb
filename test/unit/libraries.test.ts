import { describe, expect, it } from "vitest";
import { discoverLibraries, explicitSkfFrom } from "../../native-host/token/libraries.js";
import type { FileProbe } from "../../native-host/token/modules.js";

function fakeFiles(contents: Record<string, string>): FileProbe {
  return {
    exists: (path) => path in contents,
    listDir: () => [],
    readText: (path) => contents[path] ?? "",
    identity: (path) => (path in contents ? `content:${contents[path]}` : `path:${path}`),
  };
}

describe("key library discovery (SKF and PKCS#11)", () => {
  const files = fakeFiles({ "/usr/lib/softhsm/libsofthsm2.so": "softhsm", "/opt/lm-gm3000/lib/libgm3000.1.0.so": "gm3000", "/usr/lib64/libgm3000.1.0.so": "gm3000" });

  it("uses only the explicit libraries, SKF first, when any is given", () => {
    expect(discoverLibraries({ explicitSkf: ["/v/libyzt-vskf.so"], configModules: ["/y.so"], knownSkf: ["/k.so"], platform: "linux", files })).toEqual([
      { kind: "skf", path: "/v/libyzt-vskf.so", source: "explicit" },
    ]);
    expect(discoverLibraries({ explicitSkf: ["/s.so"], explicitPkcs11: ["/p.so"], files })).toEqual([
      { kind: "skf", path: "/s.so", source: "explicit" },
      { kind: "pkcs11", path: "/p.so", source: "explicit" },
    ]);
  });

  it("offers config SKF libraries, then known models' SKF libraries once each, then PKCS#11 discovery", () => {
    const found = discoverLibraries({
      configSkfModules: ["/opt/vendor/libskf.so"],
      knownSkf: ["/opt/lm-gm3000/lib/libgm3000.1.0.so", "/usr/lib64/libgm3000.1.0.so"],
      platform: "linux",
      files,
    });
    expect(found).toEqual([
      { kind: "skf", path: "/opt/vendor/libskf.so", source: "config" },
      { kind: "skf", path: "/opt/lm-gm3000/lib/libgm3000.1.0.so", source: "known" },
      { kind: "pkcs11", path: "/usr/lib/softhsm/libsofthsm2.so", source: "known" },
    ]);
  });

  it("reads YZT_SKF_MODULE as a path list, and --skf-module wins over it", () => {
    expect(explicitSkfFrom([], { YZT_SKF_MODULE: "/a.so:/b.so" })).toEqual(["/a.so", "/b.so"]);
    expect(explicitSkfFrom(["/c.so"], { YZT_SKF_MODULE: "/a.so" })).toEqual(["/c.so"]);
    expect(explicitSkfFrom([], {})).toEqual([]);
  });
});
