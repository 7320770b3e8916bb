/**
 * BJCA XTXApp compatibility in real browsers: the demo's legacy page, written against the
 * ws://127.0.0.1:21051/xtxapp/ JSON protocol, works with no BJCA software and no local port — answered by
 * the extension and verified by the server; every SOF_* function is checked, signatures by OpenSSL. The page
 * is served over https under a tax-hall host name, so it opens wss://127.0.0.1:21061/xtxapp/, as such pages do.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoServer, type DemoServer } from "../../demo/server.js";
import { launchBrowser, type BrowserSession } from "../../scripts/launch-browser.js";
import { loopbackAddress } from "../../scripts/test-site.js";
import { verifyCmsSignature } from "../../native-host/crypto/verify.js";
import { independentlyVerifiesCms, opensslVerifiesSm2 } from "../support/independent-verify.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";
import { insertToken, removeToken } from "../virtual-token/state.js";

/** Calls one SOF_* function through the page's own XTXApp socket helper. */
function sof(page: Page, name: string, ...params: unknown[]): Promise<unknown> {
  return page.evaluate((n, p) => (window as unknown as { call(name: string, params: unknown[]): Promise<unknown> }).call(n, p), name, params);
}

for (const family of ["chromium", "firefox"] as const) {
  describe(`XTXApp compatibility in ${family}`, () => {
    let vtoken: VirtualToken;
    let demo: DemoServer;
    let session: BrowserSession;
    let page: Page;
    let work: string;
    let certID: string;
    let cert: string;

    beforeAll(async () => {
      vtoken = await cloneVirtualToken();
      const tls = vtoken.manifest.tls;
      // Port 443 on this process's own loopback address; any free port where 443 may not be bound.
      const start = (port: number) => startDemoServer({ trustedRoots: [vtoken.manifest.pki.chain], host: loopbackAddress(), port, tls: { cert: tls.cert, key: tls.key, hostName: tls.hosts[0]! } });
      demo = await start(443).catch(() => start(0));
      work = mkdtempSync(join(tmpdir(), "yzt-xtx-"));
      session = await launchBrowser(family, { YZT_PKCS11_MODULE: vtoken.module, ...vtoken.env }, { site: { hostIp: demo.hostIp, caPem: readFileSync(tls.ca, "utf8") } });
      page = await session.browser.newPage();
      await page.goto(`${demo.url}legacy.html`);
      await page.waitForSelector("#env[data-users='1']", { timeout: 10_000 });
    }, 120_000);

    afterAll(async () => {
      await session?.close();
      await demo?.close();
      vtoken?.dispose();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it("runs on an https tax-hall page, whose socket is the wss one (wss://127.0.0.1:21061/xtxapp/)", async () => {
      expect(demo.origin).toMatch(/^https:\/\/etax\.beijing\.chinatax\.gov\.cn(:\d+)?$/);
      const seen = await page.evaluate(() => [location.origin, window.isSecureContext, (window as unknown as { ws: WebSocket }).ws.url]);
      expect(seen).toEqual([demo.origin, true, "wss://127.0.0.1:21061/xtxapp/"]);
    });

    it("lists the key's certificate the BJCA way (name||certID&&&)", async () => {
      const list = String(await sof(page, "SOF_GetUserList"));
      expect(list).toMatch(/^北京演示科技有限公司\|\|YZT0000000000001:0101&&&$/);
      certID = "YZT0000000000001:0101";
      cert = String(await sof(page, "SOF_ExportUserCert", certID));
      expect(Buffer.from(cert, "base64").subarray(0, 1)[0]).toBe(0x30);
      expect(await sof(page, "SOF_ExportExChangeUserCert", certID)).not.toBe(cert);
    });

    it("logs in on the legacy page: wrong PIN shows the retries, right PIN signs the server random", async () => {
      await page.type("#pin", "00000000");
      await page.click("#loginBtn");
      await page.waitForFunction(() => document.getElementById("msg")?.textContent?.includes("还可以尝试 9 次"), { timeout: 10_000 });
      await page.$eval("#pin", (input) => {
        (input as HTMLInputElement).value = "";
      });
      await page.type("#pin", "12345678");
      await page.click("#loginBtn");
      await page.waitForSelector("#msg[data-logged-in=true]", { timeout: 10_000 });
      expect(await page.$eval("#msg", (el) => el.textContent)).toContain("登录成功：北京演示科技有限公司");
      expect(Number(await page.$eval("#msg", (el) => (el as HTMLElement).dataset.daysLeft))).toBeGreaterThan(700);
    });

    it("answers SOF_GetCertInfo with the BJCA type codes", async () => {
      const info = async (type: number) => String(await sof(page, "SOF_GetCertInfo", cert, type));
      expect(await info(1)).toBe("V3");
      expect(await info(2)).toMatch(/^[0-9A-F]{32}$/);
      expect(await info(3)).toBe("SM3withSM2"); // the demo key is SM2, like a current 一证通
      expect(await info(11)).toMatch(/^20\d{12}$/);
      expect(await info(12)).toMatch(/^20\d{12}$/);
      expect(await info(14)).toBe("北京演示科技有限公司");
      expect(await info(17)).toBe("北京演示科技有限公司");
      expect(await info(33)).toContain("O=北京演示科技有限公司");
      expect(await info(34)).toContain("CN=YZT Demo SM2 Sub CA");
      const creditCode = vtoken.manifest.tokens[0]!.creditCode;
      expect(await info(35)).toBe(`SF${creditCode}`);
      expect(await sof(page, "SOF_GetCertInfoByOid", cert, "1.2.156.10260.4.1.4")).toBe(creditCode);
    });

    it("signs with SOF_SignData (SM2, base64 DER like BJCA's service) and SOF_SignMessage (attached and detached), checked independently", async () => {
      const data = Buffer.from("申报数据");
      const raw = String(await sof(page, "SOF_SignData", certID, "申报数据"));
      expect(opensslVerifiesSm2(Buffer.from(cert, "base64"), data, Buffer.from(raw, "base64"))).toBe(true);
      expect(await sof(page, "SOF_VerifySignedData", cert, "申报数据", raw)).toBe(true);
      expect(await sof(page, "SOF_VerifySignedData", cert, "篡改数据", raw)).toBe(false);
      const detached = Buffer.from(String(await sof(page, "SOF_SignMessage", 1, certID, "申报数据")), "base64");
      expect(independentlyVerifiesCms(detached, data, vtoken.manifest.pki.chain)).toBe(true);
      expect(independentlyVerifiesCms(detached, Buffer.from("篡改数据"), vtoken.manifest.pki.chain)).toBe(false);
      const attached = Buffer.from(String(await sof(page, "SOF_SignMessage", 0, certID, "申报数据")), "base64");
      expect(independentlyVerifiesCms(attached, data, vtoken.manifest.pki.chain)).toBe(true);
      const verified = await verifyCmsSignature(attached, { trustedRoots: [readFileSync(vtoken.manifest.pki.chain, "utf8")] });
      expect(Buffer.from(verified.content).toString("utf8")).toBe("申报数据");
    });

    it("reports login state, random data, sign method, errors and logout", async () => {
      expect(await sof(page, "SOF_IsLogin", certID)).toBe(true);
      expect(Buffer.from(String(await sof(page, "SOF_GenRandom", 32)), "base64")).toHaveLength(32);
      expect(await sof(page, "SOF_GetSignMethod")).toBe(0x00020201); // SGD_SM3_SM2 for an SM2 key
      expect(await sof(page, "SOF_GetPinRetryCount", certID)).toBe(10);
      expect(await sof(page, "SOF_NoSuchFunction")).toBe("");
      expect(await sof(page, "SOF_GetLastError")).not.toBe(0);
      expect(await sof(page, "SOF_Logout", certID)).toBe(true);
      expect(await sof(page, "SOF_IsLogin", certID)).toBe(false);
      expect(await sof(page, "SOF_GetLastError")).toBe(0);
    });

    it("sends onUsbkeyChange when the key is pulled out and put back", async () => {
      removeToken(vtoken.home, "demo");
      await page.waitForSelector("#env[data-users='0']", { timeout: 5000 });
      insertToken(vtoken.home, "demo");
      await page.waitForSelector("#env[data-users='1']", { timeout: 5000 });
      expect(Number(await page.$eval("#env", (el) => (el as HTMLElement).dataset.keyChanges))).toBeGreaterThanOrEqual(2);
    });

    it("changes the PIN with SOF_ChangePassWd and refuses a wrong old PIN", async () => {
      expect(await sof(page, "SOF_ChangePassWd", certID, "00000000", "11223344")).toBe(false);
      expect(await sof(page, "SOF_ChangePassWd", certID, "12345678", "11223344")).toBe(true);
      expect(await sof(page, "SOF_Login", certID, "11223344")).toBe(true);
      expect(await sof(page, "SOF_ChangePassWd", certID, "11223344", "12345678")).toBe(true);
    });
  });
}
