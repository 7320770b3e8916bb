/**
 * Benchmark rows for an office's hub: 20 office keys (one company each, SM2/RSA alternating) inserted
 * beside the demo key. Measured: host cold start to the first full certificate list (through the keys'
 * PKCS#11 face and through their SKF face), key removal to the host's event with all of them inserted, and
 * the picker's opening (page call to a ready dialog) in Chromium. Budgets: list ≤ 300 ms, removal seen ≤ 300 ms.
 */
import { join } from "node:path";
import { launchBrowser, pressKey, waitForDialog } from "./launch-browser.js";
import { HostProcess } from "./host-process.js";
import { startTestSite } from "./test-site.js";
import { provision } from "../test/virtual-token/provision.js";
import { hostLibraryOf, libraryEnv } from "../test/virtual-token/backend.js";
import { insertToken, removeToken } from "../test/virtual-token/state.js";

export const OFFICE_KEYS = 20;

export interface ManyKeysSamples {
  keys: number;
  certificates: number;
  coldListMs: number[];
  /** The same through the keys' SKF face (GM/T 0016), as 一证通 keys are driven. */
  skfColdListMs: number[];
  removalMs: number[];
  pickerOpenMs: number[];
}

export async function measureManyKeys(work: string): Promise<ManyKeysSamples> {
  const home = join(work, "vtoken-office");
  const manifest = await provision(home, { keys: OFFICE_KEYS });
  const env = { YZT_VTOKEN_HOME: home, YZT_CA_CERTIFICATES: manifest.pki.chain, YZT_LOG_LEVEL: "warn" };
  const keys = manifest.tokens.filter((token) => token.alias === "demo" || token.alias.startsWith("office")).length;

  // Cold start: a fresh host each time, from spawn to the answer listing every certificate; the two faces in turn.
  const coldListMs: number[] = [];
  const skfColdListMs: number[] = [];
  let certificates = 0;
  for (let i = 0; i < 10; i++) {
    for (const [backend, samples] of [["pkcs11", coldListMs], ["skf", skfColdListMs]] as const) {
      const started = performance.now();
      const host = HostProcess.start({ library: hostLibraryOf(manifest, backend), env });
      const list = await host.request("listCertificates", {});
      samples.push(performance.now() - started);
      if (backend === "pkcs11") certificates = list.length;
      await host.close();
    }
  }

  // Removal: one key of the 21 pulled out, to the host's tokenremoved event; then put back.
  const host = HostProcess.start({ library: hostLibraryOf(manifest, "pkcs11"), env });
  await host.request("listTokens", {});
  const removalMs: number[] = [];
  for (let i = 0; i < 10; i++) {
    const alias = `office${String((i % OFFICE_KEYS) + 1).padStart(2, "0")}`;
    const serial = manifest.tokens.find((token) => token.alias === alias)!.serial;
    host.events.length = 0;
    const pulledAt = performance.now();
    removeToken(home, alias);
    await host.waitForEvent((event) => event.event === "tokenremoved" && event.data.tokenSerial === serial, 5000);
    removalMs.push(performance.now() - pulledAt);
    insertToken(home, alias);
    await host.waitForEvent((event) => event.event === "tokeninserted" && event.data.tokenSerial === serial, 5000);
  }
  await host.close();

  // The picker with every signing certificate of the hub, from the page's call to a dialog ready for input.
  const site = await startTestSite(manifest.tls);
  const session = await launchBrowser("chromium", { ...libraryEnv(hostLibraryOf(manifest, "pkcs11")), ...env }, { site });
  const pickerOpenMs: number[] = [];
  try {
    const page = await session.browser.newPage();
    await page.goto(site.allowedUrl);
    await page.waitForFunction(() => typeof (window as { yzt?: unknown }).yzt === "object");
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const choice = page.evaluate(() => (window as unknown as { yzt: { selectCertificate(): Promise<unknown> } }).yzt.selectCertificate().catch(() => null));
      const dialog = await waitForDialog(session.browser, "picker", 15_000);
      pickerOpenMs.push(performance.now() - started);
      await pressKey(dialog, "Escape");
      await choice;
    }
  } finally {
    await session.close();
    await site.close();
  }
  return { keys, certificates, coldListMs, skfColdListMs, removalMs, pickerOpenMs };
}
