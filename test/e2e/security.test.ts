/**
 * One test per protection of API.md section 4, in real Chromium and Firefox with the built extension: each
 * fails if its protection breaks. Pages are served over https under the tax-hall names (and a look-alike
 * that is not allowed), plain http and a loopback address, from the same throw-away test site.
 */
import type { Frame, Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { YztCertificate } from "../../protocol/types.js";
import { launchBrowser, press, waitForDialog, type BrowserSession } from "../../scripts/launch-browser.js";
import { startTestSite, type TestSite } from "../../scripts/test-site.js";
import { callResult, loginWithPin, startCall } from "../support/page-calls.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";

/** Waits long enough for document_start scripts, then tells whether the document got window.yzt. */
async function hasYzt(target: Page | Frame): Promise<boolean> {
  await new Promise((resolve) => setTimeout(resolve, 700));
  return target.evaluate(() => "yzt" in window);
}

/** A page's own forged call to the content-script channel: answered within a second, or not at all. */
async function forgedCallAnswered(page: Page): Promise<boolean> {
  return page.evaluate(
    () =>
      new Promise<boolean>((resolve) => {
        window.addEventListener("message", (event: MessageEvent) => {
          const data = event.data as { direction?: string } | null;
          if (data?.direction === "to-page") resolve(true);
        });
        window.postMessage({ channel: "yzt-bridge:v1", direction: "to-extension", kind: "hello" }, "*");
        window.postMessage({ channel: "yzt-bridge:v1", direction: "to-extension", kind: "call", id: 1, method: "listCertificates", params: {} }, "*");
        setTimeout(() => resolve(false), 1000);
      }),
  );
}

async function iframeOf(page: Page): Promise<Frame> {
  await page.waitForSelector("#frame");
  const handle = await page.$("#frame");
  const frame = await handle!.contentFrame();
  await frame!.waitForSelector("h1");
  return frame!;
}

for (const family of ["chromium", "firefox"] as const) {
  describe(`security in ${family}`, () => {
    let vtoken: VirtualToken;
    let site: TestSite;
    let session: BrowserSession;
    let page: Page;

    beforeAll(async () => {
      vtoken = await cloneVirtualToken();
      site = await startTestSite(vtoken.manifest.tls);
      session = await launchBrowser(family, vtoken.hostEnv, { site });
      page = await session.browser.newPage();
    }, 120_000);

    afterAll(async () => {
      await session?.close();
      await site?.close();
      vtoken?.dispose();
    });

    it("gives a not-allowed https origin no window.yzt, and its forged channel messages get no answer", async () => {
      await page.goto(site.refusedUrl);
      expect(await hasYzt(page)).toBe(false);
      expect(await forgedCallAnswered(page)).toBe(false);
    });

    it("gives a plain http page on a default tax-hall name nothing", async () => {
      await page.goto(site.plainHttpUrl);
      expect(await page.evaluate(() => [location.protocol, window.isSecureContext])).toEqual(["http:", false]);
      expect(await hasYzt(page)).toBe(false);
      expect(await forgedCallAnswered(page)).toBe(false);
    });

    it("gives a loopback page nothing while the developer setting is off (the default)", async () => {
      await page.goto(site.loopbackUrl);
      expect(await hasYzt(page)).toBe(false);
      expect(await forgedCallAnswered(page)).toBe(false);
    });

    it("gives a cross-origin iframe inside an allowed page nothing, while the top page has the API", async () => {
      await page.goto(site.frameUrl(site.refusedUrl));
      expect(await hasYzt(page)).toBe(true);
      expect(await hasYzt(await iframeOf(page))).toBe(false);
    });

    it("gives an allowed page framed by a hostile top page nothing (top frames only)", async () => {
      await page.goto(site.frameUrl(site.allowedUrl, site.refusedUrl));
      expect(await hasYzt(page)).toBe(false);
      expect(await hasYzt(await iframeOf(page))).toBe(false);
    });

    it("does not let a page reach the extension's runtime directly", async () => {
      await page.goto(site.allowedUrl);
      const reached = await page.evaluate(async () => {
        const runtime = (window as unknown as { chrome?: { runtime?: { sendMessage?: unknown } } }).chrome?.runtime;
        return typeof runtime?.sendMessage === "function";
      });
      expect(reached).toBe(false);
    });

    it("refuses prototype-pollution and type-confused payloads with BAD_REQUEST, and keeps working", async () => {
      await page.goto(site.allowedUrl);
      await page.waitForFunction(() => typeof window.yzt === "object");
      const outcomes = await page.evaluate(async () => {
        const payloads: unknown[] = [
          JSON.parse('{"__proto__": {"polluted": true}, "certificateId": "YZT0000000000001:0101", "format": "raw", "data": "QUJD"}'),
          { certificateId: ["YZT0000000000001:0101"], format: "raw", data: "QUJD" },
          { certificateId: "YZT0000000000001:0101", format: { toString: () => "raw" }, data: "QUJD" },
          { certificateId: "YZT0000000000001:0101", format: "raw", data: 12345 },
          { certificateId: "YZT0000000000001:0101", format: "raw", data: "QUJD", digest: "QUJD" },
          "not an object",
          null,
        ];
        const codes: string[] = [];
        for (const payload of payloads) {
          const timeout = new Promise((resolve) => setTimeout(() => resolve("no answer"), 5000));
          codes.push(String(await Promise.race([timeout, window.yzt.sign(payload).then(() => "ok", (error: { code: string }) => error.code)])));
        }
        return { codes, polluted: ({} as { polluted?: boolean }).polluted === true };
      });
      expect(outcomes.codes).toEqual(Array(7).fill("BAD_REQUEST"));
      expect(outcomes.polluted).toBe(false);
      const certificates = await page.evaluate(() => window.yzt.listCertificates());
      expect(certificates.length).toBeGreaterThan(0);
    });

    it("does not let origin B sign on origin A's logged-in session: B gets its own PIN prompt", async () => {
      await page.goto(site.allowedUrl);
      await page.waitForFunction(() => typeof window.yzt === "object");
      const certificate: YztCertificate = await page.evaluate(() => window.yzt.selectCertificate({ purpose: "sign" }));
      expect((await loginWithPin(session.browser, page, certificate.id, vtoken.manifest.userPin)).ok).toBe(true);
      const other = await session.browser.newPage();
      await other.goto(site.secondAllowedUrl);
      await other.waitForFunction(() => typeof window.yzt === "object");
      await startCall(other, "sign", `window.yzt.sign({ certificateId: ${JSON.stringify(certificate.id)}, data: "QUJD", format: "raw" })`);
      const prompt = await waitForDialog(session.browser, "pin");
      expect(await prompt.evaluate(() => document.body.textContent ?? "")).toContain(new URL(site.secondAllowedUrl).hostname);
      await press(prompt, "[data-action=cancel]");
      expect(await callResult(other, "sign")).toMatchObject({ ok: false, code: "USER_CANCELLED" });
      await other.close();
    });
  });
}
