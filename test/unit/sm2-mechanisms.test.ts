/** The per-library SM2 mechanism table: built-in entries, config.json entries, probing, and the typed refusal. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../native-host/support/config.js";
import { configuredSm2Mechanisms, resolveSm2Mechanisms, sm2DecryptMechanism, unsupportedSm2 } from "../../native-host/token/pkcs11/mechanisms.js";

const LONGMAI = { path: "/usr/lib/libgm3000_pkcs11.so", manufacturer: "Longmai" };

describe("SM2 mechanisms per PKCS#11 library", () => {
  it("knows the virtual token by its manufacturer ID and prefers its message + ID mechanism", () => {
    const found = resolveSm2Mechanisms({ path: "/tmp/x/libyzt-vtoken.so", manufacturer: "yzt-bridge virtual token" }, null, []);
    expect(found).toMatchObject({ message: { type: 0x80005302, idParameter: "id" }, digest: { type: 0x80005301 }, output: "raw" });
  });

  it("knows the Sansec/Koal family by library name", () => {
    expect(resolveSm2Mechanisms({ path: "C:\\Windows\\System32\\swpkcs11.dll" }, null, [])).toMatchObject({ message: { type: 0x80008100 }, digest: { type: 0x80008105 } });
  });

  it("finds a known family in the token's mechanism list when the library is unknown", () => {
    const found = resolveSm2Mechanisms(LONGMAI, new Set([0x1, 0x80008100, 0x80008105]), []);
    expect(found?.source).toMatch(/found in the token's mechanism list/);
    expect(found?.digest?.type).toBe(0x80008105);
  });

  it("has nothing for an unknown library whose token lists no known mechanism", () => {
    expect(resolveSm2Mechanisms(LONGMAI, new Set([0x1, 0x1040]), [])).toBeNull();
    expect(resolveSm2Mechanisms(LONGMAI, null, [])).toBeNull();
  });

  it("takes config.json entries (numbers or hex strings) before built-in ones", () => {
    const configured = configuredSm2Mechanisms([{ library: "libgm3000_pkcs11", digest: 0x80000c01, output: "der" }]);
    expect(resolveSm2Mechanisms(LONGMAI, null, configured)).toMatchObject({ source: "config.json sm2Mechanisms[0]", digest: { type: 0x80000c01 }, output: "der" });
    // An entry that names no library/manufacturer or no mechanism cannot match anything and is dropped.
    expect(configuredSm2Mechanisms([{ digest: 1 }, { library: "x" }])).toEqual([]);
  });

  it("refuses with UNSUPPORTED_ALGORITHM naming the module and the config field", () => {
    const error = unsupportedSm2(LONGMAI.path, LONGMAI.manufacturer, "/home/u/.config/yzt-bridge/config.json");
    expect(error.code).toBe("UNSUPPORTED_ALGORITHM");
    expect(error.message).toContain("/usr/lib/libgm3000_pkcs11.so");
    expect(error.message).toContain("sm2Mechanisms");
    expect(error.message).toContain("/home/u/.config/yzt-bridge/config.json");
  });

  it("reads sm2Mechanisms from config.json with hex strings, and reports a malformed entry as a config problem", () => {
    const dir = mkdtempSync(join(tmpdir(), "yzt-config-"));
    try {
      writeFileSync(join(dir, "config.json"), JSON.stringify({ sm2Mechanisms: [{ library: "libgm3000", message: "0x80000C02", messageIdParameter: "id", digest: 2147486721 }] }));
      expect(loadConfig({ YZT_CONFIG_DIR: dir }).config.sm2Mechanisms).toEqual([{ library: "libgm3000", message: 0x80000c02, messageIdParameter: "id", digest: 2147486721 }]);
      writeFileSync(join(dir, "config.json"), JSON.stringify({ sm2Mechanisms: [{ library: "x", message: "CKM_SM2" }] }));
      expect(loadConfig({ YZT_CONFIG_DIR: dir }).problem).toMatch(/sm2Mechanisms\[0\]\.message/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("SM2 decryption mechanism", () => {
  it("uses the first known DER-ciphertext mechanism the token lists, and names the library when there is none", () => {
    expect(sm2DecryptMechanism(new Set([0x1, 0x80008201]), "/usr/lib/swpkcs11.so")).toBe(0x80008201);
    expect(sm2DecryptMechanism(new Set([0x80008201, 0x80005303]), "/x.so")).toBe(0x80005303);
    for (const listed of [new Set([0x1]), null]) {
      const error = (() => {
        try {
          sm2DecryptMechanism(listed, LONGMAI.path);
        } catch (failure) {
          return failure as { code: string; message: string };
        }
        return null;
      })();
      expect(error?.code).toBe("UNSUPPORTED_ALGORITHM");
      expect(error?.message).toContain(LONGMAI.path);
    }
  });
});
