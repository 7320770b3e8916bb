import { describe, expect, it } from "vitest";
import { adviceFor } from "../../protocol/diagnostic-report.js";
import { diagnose } from "../../native-host/token/diagnostics.js";
import { failedLibrary } from "../../native-host/token/device.js";
import { TokenService } from "../../native-host/token/token-service.js";
import type { IdentifiedUsbKey } from "../../native-host/token/usb-keys.js";

function usbKey(overrides: Partial<IdentifiedUsbKey>): IdentifiedUsbKey {
  return {
    modelId: "longmai-gm3000", model: "龙脉 mToken GM3000", vendor: "龙脉 Longmai", usb: { vendorId: "055c", productId: "e618" },
    skfLibraries: [], pkcs11Libraries: [], build32Libraries: [], missingDriver: true, expectedFiles: ["libgm3000.1.0.so"],
    installHint: "龙脉 mToken GM3000：安装 libgm3000.1.0.so", ...overrides,
  };
}

async function checksFor(keys: IdentifiedUsbKey[]) {
  const service = new TokenService([{ kind: "skf", path: "/opt/missing/libskf.so", source: "config" }], (candidate) => failedLibrary(candidate, "cannot load the SKF library /opt/missing/libskf.so: no such file"));
  service.start(false);
  try {
    return (await diagnose({ service, authorities: () => [], usbKeys: () => keys })).checks;
  } finally {
    service.close();
  }
}

describe("environment check: inserted USB keys and their drivers", () => {
  it("names an inserted key whose driver is missing, says which library to install, and advises the user", async () => {
    const checks = await checksFor([usbKey({})]);
    const check = checks.find((c) => c.id === "usbKey")!;
    expect(check).toMatchObject({ status: "error", detail: { model: "龙脉 mToken GM3000", usb: "055c:e618" } });
    expect(check.message).toContain("libgm3000.1.0.so");
    expect(adviceFor(check)).toMatch(/驱动/);
  });

  it("says a key with only a 32-bit driver cannot be used by this host", async () => {
    const check = (await checksFor([usbKey({ build32Libraries: ["C:\\Windows\\SysWOW64\\mtoken_gm3000.dll"] })])).find((c) => c.id === "usbKey")!;
    expect(check.message).toContain("32-bit");
  });

  it("reports a key whose driver is installed as ok, with the library", async () => {
    const check = (await checksFor([usbKey({ missingDriver: false, skfLibraries: ["/opt/lm-gm3000/lib/libgm3000.1.0.so"] })])).find((c) => c.id === "usbKey")!;
    expect(check).toMatchObject({ status: "ok" });
    expect(check.message).toContain("/opt/lm-gm3000/lib/libgm3000.1.0.so");
  });

  it("names an SKF library that failed to load, as a module problem", async () => {
    const check = (await checksFor([])).find((c) => c.id === "module")!;
    expect(check).toMatchObject({ status: "error", detail: { kind: "skf", path: "/opt/missing/libskf.so" } });
    expect(check.message).toContain("SKF library /opt/missing/libskf.so");
  });
});
