/**
 * A crashing vendor library in a real browser (Chromium, the built extension, the real native host): an office
 * has two vendors' keys, each through its own library. The page logs in with the healthy library's key; the
 * other library starts to segfault in enumeration (龙脉 GM3000 without libusb). The page keeps signing, with
 * no PIN asked again (the same host, the same session: the extension never reconnected), sees the other
 * vendor's key leave, and the 证书助手 popup's check names the quarantined library and what to do.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, press, waitForDialog, waitForExtensionPage, type BrowserSession } from "../../scripts/launch-browser.js";
import { startTestSite, type TestSite } from "../../scripts/test-site.js";
import { independentlyVerifiesSm2Cms } from "../support/independent-verify.js";
import { callResult, openApiPage, startCall } from "../support/page-calls.js";
import { cloneVirtualToken, cloneVirtualTokenRenamed, type VirtualToken } from "../support/virtual-token.js";
import { buildSkf } from "../virtual-token/build.js";

const PIN = "12345678";
const HEALTHY_SERIAL = "YZT0000000000001";
const OTHER_SERIAL = "YZT9000000000001";
const HUNG_SERIAL = "YZT8000000000001";
/** How long the host lets a signature take before it stops the driver (shortened from 120 s for the test). */
const CALL_LIMIT_MS = 10_000;
const CONTENT = Buffer.from("增值税申报 2026-12");

describe("a vendor library that crashes beside a healthy one, in chromium", () => {
  let healthy: VirtualToken;
  let other: VirtualToken;
  let third: VirtualToken;
  let crashing: string;
  let configDir: string;
  let site: TestSite;
  let session: BrowserSession;
  let page: Page;

  beforeAll(async () => {
    healthy = await cloneVirtualToken();
    other = await cloneVirtualTokenRenamed((serial) => serial.replace(/^YZT0/, "YZT9"));
    crashing = buildSkf(other.home, "crash-enum");
    third = await cloneVirtualTokenRenamed((serial) => serial.replace(/^YZT0/, "YZT8"));
    configDir = mkdtempSync(join(tmpdir(), "yzt-e2e-drivers-"));
    site = await startTestSite(healthy.manifest.tls);
    // No YZT_VTOKEN_HOME: each library's virtual keys are the ones beside it.
    session = await launchBrowser("chromium", {
      YZT_PKCS11_MODULE: healthy.module,
      YZT_SKF_MODULE: [crashing, buildSkf(third.home, "hang-sign")].join(":"),
      YZT_DRIVER_CALL_LIMIT_MS: String(CALL_LIMIT_MS),
      YZT_CA_CERTIFICATES: healthy.manifest.pki.chain,
      YZT_CONFIG_DIR: configDir,
    }, { site });
    page = await openApiPage(session.browser, site.allowedUrl);
  }, 120_000);

  afterAll(async () => {
    await session?.close();
    await site?.close();
    healthy?.dispose();
    other?.dispose();
    third?.dispose();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  it("keeps the healthy key logged in and signing while the other library crashes, restarts and is quarantined; the popup names it", async () => {
    await page.waitForFunction((serials: string[]) => window.yzt.status().then((status) => serials.every((serial) => status.tokens.some((token: { serial: string; present: boolean }) => token.serial === serial && token.present))), { timeout: 20_000, polling: 200 }, [HEALTHY_SERIAL, OTHER_SERIAL, HUNG_SERIAL]);
    const certificateId = `${HEALTHY_SERIAL}:0101`;
    await startCall(page, "login", `window.yzt.login({ certificateId: ${JSON.stringify(certificateId)}, challenge: "drivers-challenge-0123456789" })`);
    const prompt = await waitForDialog(session.browser, "pin");
    await prompt.waitForSelector("form input[type=password][name=pin]");
    const extensionBase = (await prompt.evaluate(() => location.href)).replace(/extension\/ui\/pin\.html.*$/, "");
    await prompt.type("input[name=pin]", PIN);
    await press(prompt, "button[type=submit]");
    expect(await callResult(page, "login")).toMatchObject({ ok: true });

    const sign = () => page.evaluate(async (id: string, data: string) => (await window.yzt.sign({ certificateId: id, data, format: "pkcs7-detached" })).signature, certificateId, CONTENT.toString("base64"));
    expect(independentlyVerifiesSm2Cms(Buffer.from(await sign(), "base64"), CONTENT)).toBe(true);

    // The other vendor's library starts crashing at every look for keys.
    writeFileSync(join(other.home, "fault.armed"), "");
    await page.waitForFunction((serial: string) => window.__events.includes(`tokenremoved:${serial}`), { timeout: 20_000 }, OTHER_SERIAL);
    // While it crashes and is restarted: signatures go on, without a PIN (a PIN window would leave this hanging).
    for (let i = 0; i < 3; i++) expect(independentlyVerifiesSm2Cms(Buffer.from(await sign(), "base64"), CONTENT)).toBe(true);

    // The 证书助手 popup's environment check names the library, the vendor call and what to do.
    const popup = await session.browser.newPage();
    await popup.goto(`${extensionBase}extension/ui/popup.html`);
    await waitForExtensionPage(session.browser, "/extension/ui/popup.html");
    let driverCheck = "";
    // Each check asks the host afresh; the quarantine comes after the third crash.
    while (!driverCheck.includes("quarantined")) {
      await popup.click("#run-check");
      const row = await popup.waitForSelector("[data-check=driver][data-status=error]", { timeout: 20_000 });
      driverCheck = await row!.evaluate((el) => el.textContent ?? "");
    }
    expect(driverCheck).toContain(crashing);
    expect(driverCheck).toContain("SKF_EnumDev");
    expect(driverCheck).toContain("更新驱动");
    await popup.close();

    // After the quarantine, still the same session: no PIN, a good signature.
    expect(independentlyVerifiesSm2Cms(Buffer.from(await sign(), "base64"), CONTENT)).toBe(true);
  }, 90_000);

  // Without the driver's limit this call would never settle (the library never returns): the test's own time bounds it.
  it("answers a page waiting on a library that hangs in its signature with TIMEOUT, naming the call", async () => {
    await startCall(page, "hung", `window.yzt.login({ certificateId: "${HUNG_SERIAL}:0101", challenge: "hung-challenge-0123456789" })`);
    const prompt = await waitForDialog(session.browser, "pin");
    await prompt.waitForSelector("form input[type=password][name=pin]");
    await prompt.type("input[name=pin]", PIN);
    await press(prompt, "button[type=submit]");
    const outcome = await callResult(page, "hung");
    expect(outcome).toMatchObject({ ok: false, code: "TIMEOUT" });
    expect(outcome.message).toContain("SKF_ECCSignData");
    // The healthy key is untouched by it.
    expect((await page.evaluate(() => window.yzt.status())).tokens.some((token: { serial: string; present: boolean }) => token.serial === HEALTHY_SERIAL && token.present)).toBe(true);
  }, 90_000);
});
