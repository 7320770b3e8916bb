/**
 * End to end: real headless Chromium and Firefox ESR load the built extension; the native host is
 * registered in a throw-away profile and drives the virtual token; a page served over https under a
 * tax-hall host name (mapped to a loopback address, demo CA trusted in that profile only) uses window.yzt.
 * PINs are typed into the extension's own dialog windows, exactly as a user would.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LoginToken, YztCertificate } from "../../protocol/types.js";
import { verifyLoginToken } from "../../server/index.js";
import { launchBrowser, press, waitForDialog, waitForExtensionPage, type BrowserSession } from "../../scripts/launch-browser.js";
import { startTestSite, type TestSite } from "../../scripts/test-site.js";
import { loginMessage } from "../../protocol/login-token.js";
import { rsToDer } from "../../crypto/sm2.js";
import { independentlyVerifiesCms, opensslVerifiesSm2 } from "../support/independent-verify.js";
import { callResult, fill, openApiPage, startCall } from "../support/page-calls.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";
import { insertToken, removeToken, setLatency, setRetries, untilBusy } from "../virtual-token/state.js";

const PIN = "12345678";
const WRONG_PIN = "00000000";

for (const family of ["chromium", "firefox"] as const) {
  describe(`extension in ${family}`, () => {
    let vtoken: VirtualToken;
    let site: TestSite;
    let session: BrowserSession;
    let page: Page;
    let work: string;
    let signCert: YztCertificate;
    let origin: string;
    let extensionBase = "";

    beforeAll(async () => {
      vtoken = await cloneVirtualToken();
      site = await startTestSite(vtoken.manifest.tls);
      origin = new URL(site.allowedUrl).origin;
      work = mkdtempSync(join(tmpdir(), "yzt-e2e-"));
      session = await launchBrowser(family, vtoken.hostEnv, { site });
      page = await openApiPage(session.browser, site.allowedUrl);
    }, 120_000);

    afterAll(async () => {
      await session?.close();
      await site?.close();
      vtoken?.dispose();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it("serves the page as a real secure context under the tax-hall host name (no certificate errors ignored)", async () => {
      expect(origin).toMatch(/^https:\/\/etax\.beijing\.chinatax\.gov\.cn(:\d+)?$/);
      expect(await page.evaluate(() => [location.origin, window.isSecureContext])).toEqual([origin, true]);
    });

    it("injects a frozen window.yzt that reaches the native host and sees the inserted key", async () => {
      expect(await page.evaluate(() => Object.isFrozen(window.yzt))).toBe(true);
      const version = await page.evaluate(() => window.yzt.version());
      expect(version).toMatchObject({ protocol: 1, extension: "0.1.0" });
      const status = await page.evaluate(() => window.yzt.status());
      expect(status.host).toBe("ok");
      expect(status.tokens.filter((t: { present: boolean }) => t.present).map((t: { serial: string }) => t.serial)).toEqual(["YZT0000000000001"]);
    });

    it("resolves selectCertificate at once when exactly one certificate matches", async () => {
      signCert = await page.evaluate(() => window.yzt.selectCertificate({ purpose: "sign" }));
      expect(signCert).toMatchObject({ purpose: "sign", holderName: "北京演示科技有限公司", tokenSerial: "YZT0000000000001" });
    });

    it("offers only signing certificates in the extension's picker, lets the user choose one, and cancel it", async () => {
      // A second key with a signing certificate, so there is a real choice; encryption certificates never appear.
      insertToken(vtoken.home, "rsa");
      await page.waitForFunction(() => window.__events.includes("tokeninserted:YZT0000000000005"), { timeout: 5000 });
      await startCall(page, "pick", "window.yzt.selectCertificate()");
      const picker = await waitForDialog(session.browser, "picker");
      const items = await picker.waitForSelector("[data-certificate-id]").then(() => picker.$$eval("[data-certificate-id]", (els) => els.map((e) => e.getAttribute("data-certificate-id"))));
      const rsaId = vtoken.certificateId("YZT0000000000005", "0101");
      expect(items.sort()).toEqual([vtoken.certificateId("YZT0000000000001", "0101"), rsaId].sort());
      await press(picker, `[data-certificate-id="${rsaId}"]`);
      await press(picker, "button[type=submit]");
      const picked = await callResult<YztCertificate>(page, "pick");
      expect(picked.value).toMatchObject({ id: rsaId, purpose: "sign", keyAlgorithm: "RSA" });

      await startCall(page, "pickCancel", "window.yzt.selectCertificate()");
      const again = await waitForDialog(session.browser, "picker");
      await again.waitForSelector("[data-action=cancel]");
      await press(again, "[data-action=cancel]");
      expect(await callResult(page, "pickCancel")).toMatchObject({ ok: false, code: "USER_CANCELLED" });
      removeToken(vtoken.home, "rsa");
      await page.waitForFunction(() => window.__events.includes("tokenremoved:YZT0000000000005"), { timeout: 5000 });
    });

    it("lists an expired certificate last, says how long ago it expired and how to renew, and never lets it be chosen", async () => {
      insertToken(vtoken.home, "expired");
      await page.waitForFunction(() => window.__events.includes("tokeninserted:YZT0000000000003"), { timeout: 5000 });
      await startCall(page, "pickExpired", "window.yzt.selectCertificate({ purpose: 'sign' })");
      const picker = await waitForDialog(session.browser, "picker");
      await picker.waitForSelector("[data-certificate-id][aria-selected=true]");
      const expiredId = vtoken.certificateId("YZT0000000000003", "0101");
      const listed = await picker.$$eval("[data-certificate-id]", (els) => els.map((e) => ({ id: e.getAttribute("data-certificate-id"), disabled: e.getAttribute("aria-disabled"), selected: e.getAttribute("aria-selected"), text: e.textContent ?? "" })));
      expect(listed.map((item) => item.id)).toEqual([vtoken.certificateId("YZT0000000000001", "0101"), expiredId]);
      const expired = listed[1]!;
      expect(expired).toMatchObject({ disabled: "true", selected: "false" });
      expect(expired.text).toMatch(/已过期 3[56] 天|expired 3[56] days ago/);
      expect(expired.text).not.toMatch(/剩余 -\d|\(-\d/);
      expect(await picker.$eval(`[data-certificate-id="${expiredId}"] [data-action=renew]`, (link) => (link as HTMLAnchorElement).href)).toMatch(/^https:\/\//);
      // Neither a click nor the arrow keys select it; 确定 chooses the valid certificate.
      await press(picker, `[data-certificate-id="${expiredId}"] .holder`);
      await picker.keyboard.press("ArrowDown");
      expect(await picker.$eval(`[data-certificate-id="${expiredId}"]`, (e) => e.getAttribute("aria-selected"))).toBe("false");
      await press(picker, "button[type=submit]");
      expect((await callResult<YztCertificate>(page, "pickExpired")).value).toMatchObject({ tokenSerial: "YZT0000000000001" });
      removeToken(vtoken.home, "expired");
      await page.waitForFunction(() => window.__events.includes("tokenremoved:YZT0000000000003"), { timeout: 5000 });
    });

    it("refuses to log in or sign with the encryption certificate of a dual pair (BAD_REQUEST)", async () => {
      const encryptionId = vtoken.certificateId("YZT0000000000001", "0202");
      const refused = await page.evaluate(async (id) => {
        const outcomes: string[] = [];
        for (const call of [() => window.yzt.login({ certificateId: id, challenge: "challenge-0123456789" }), () => window.yzt.sign({ certificateId: id, data: "QUJD", format: "raw" })]) {
          await call().then(() => outcomes.push("ok"), (error: { code: string; message: string }) => outcomes.push(`${error.code}: ${error.message}`));
        }
        return outcomes;
      }, encryptionId);
      for (const outcome of refused) expect(outcome).toMatch(/^BAD_REQUEST: .*encryption certificate/);
    });

    it("logs in with the PIN typed into the extension prompt, showing retries after a wrong PIN", async () => {
      const challenge = `challenge-${Date.now()}-abcdef`;
      await startCall(page, "login", `window.yzt.login({ certificateId: ${JSON.stringify(signCert.id)}, challenge: ${JSON.stringify(challenge)} })`);
      const prompt = await waitForDialog(session.browser, "pin");
      await prompt.waitForSelector("form input[type=password][name=pin]");
      extensionBase = (await prompt.evaluate(() => location.href)).replace(/extension\/ui\/pin\.html.*$/, "");
      await prompt.type("input[name=pin]", WRONG_PIN);
      await press(prompt, "button[type=submit]");
      await prompt.waitForFunction(() => /9/.test(document.getElementById("retries")?.textContent ?? ""), { timeout: 10_000 });
      await prompt.type("input[name=pin]", PIN);
      await press(prompt, "button[type=submit]");
      const login = await callResult<LoginToken>(page, "login");
      expect(login.ok).toBe(true);
      const token = login.value!;
      expect(token.origin).toBe(origin);
      // The demo key is SM2, like a current 一证通: an SM2SM3 token, checked by OpenSSL and by the verifier.
      expect(token.algorithm).toBe("SM2SM3");
      expect(opensslVerifiesSm2(Buffer.from(token.certificate, "base64"), loginMessage(origin, challenge), rsToDer(Buffer.from(token.signature, "base64")))).toBe(true);
      const verified = verifyLoginToken(token, { challenge, origin, trustedRoots: [readFileSync(vtoken.manifest.pki.chain, "utf8")] });
      expect(verified.holderName).toBe("北京演示科技有限公司");
      expect(verified.creditCode).toBe(signCert.creditCode);
    });

    it("never lets the page see the PIN", async () => {
      const leaked = await page.evaluate((pin) => {
        const found: string[] = [];
        if (document.documentElement.outerHTML.includes(pin)) found.push("DOM");
        if (document.querySelector("input[type=password]")) found.push("password input in page");
        for (const key of Object.getOwnPropertyNames(window)) {
          try {
            if (JSON.stringify((window as unknown as Record<string, unknown>)[key])?.includes(pin)) found.push(key);
          } catch {
            // cyclic or inaccessible values cannot hold the PIN as JSON text
          }
        }
        return found;
      }, PIN);
      expect(leaked).toEqual([]);
    });

    it("signs within the session without another PIN prompt; the detached SM2 CMS checks out independently", async () => {
      const data = Buffer.from("<申报表><税额>1234.56</税额></申报表>");
      const result = await page.evaluate(
        (id, b64) => window.yzt.sign({ certificateId: id, data: b64, format: "pkcs7-detached" }),
        signCert.id,
        data.toString("base64"),
      );
      expect(result.algorithm).toBe("SM3withSM2");
      expect(independentlyVerifiesCms(Buffer.from(result.signature, "base64"), data, vtoken.manifest.pki.chain)).toBe(true);
      expect(independentlyVerifiesCms(Buffer.from(result.signature, "base64"), Buffer.from("<申报表/>"), vtoken.manifest.pki.chain)).toBe(false);
    });

    it("hashes large data in the extension and still produces a verifiable detached signature", async () => {
      // The 2 MiB document is made inside the page: a real page has its data there, not in the test driver.
      const repeat = 700_000;
      const data = Buffer.from("税".repeat(repeat));
      const result = await page.evaluate(async (id, count) => {
        const bytes = new TextEncoder().encode("税".repeat(count));
        let binary = "";
        for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        return window.yzt.sign({ certificateId: id, data: btoa(binary), format: "pkcs7-detached" });
      }, signCert.id, repeat);
      expect(independentlyVerifiesCms(Buffer.from(result.signature, "base64"), data, vtoken.manifest.pki.chain)).toBe(true);
    });

    it("rejects bad arguments with BAD_REQUEST naming the field", async () => {
      const error = await page.evaluate((id) => window.yzt.sign({ certificateId: id, format: "pkcs7-attached", digest: "AAAA" }).catch((e: { code: string; message: string }) => ({ code: e.code, message: e.message })), signCert.id);
      expect(error.code).toBe("BAD_REQUEST");
      expect(error.message).toMatch(/digest/);
    });

    it("pulling the key during a submission rejects TOKEN_REMOVED and shows the warning until it is back", async () => {
      setLatency(vtoken.home, "demo", 20_000);
      try {
        // The submission names its key, so it uses it from its start: pulling it at any moment after the
        // signature was asked for is "during the submission", however loaded the machine is.
        await page.evaluate(() => {
          window.__signAsked = false;
        });
        await startCall(page, "submit", `window.yzt.submission("增值税申报", () => { window.__signAsked = true; return window.yzt.sign({ certificateId: ${JSON.stringify(signCert.id)}, data: "c3VibWl0", format: "pkcs7-detached" }); }, { tokenSerials: ["YZT0000000000001"] })`);
        await page.waitForFunction(() => window.__signAsked === true);
        await untilBusy(vtoken.home, "demo");
        removeToken(vtoken.home, "demo");
        const outcome = await callResult(page, "submit");
        expect(outcome).toMatchObject({ ok: false, code: "TOKEN_REMOVED" });
        // How soon the page hears of it is measured by the benchmark (removal seen by the page), not here.
        await page.waitForSelector("[data-yzt-warning=token-removed]", { visible: true, timeout: 30_000 });
      } finally {
        // Even when this test fails, the key must not stay slow and pulled out for the tests after it.
        setLatency(vtoken.home, "demo", 0);
        insertToken(vtoken.home, "demo");
      }
      await page.waitForFunction(() => !document.querySelector("[data-yzt-warning=token-removed]"), { timeout: 10_000 });
      const events = await page.evaluate(() => window.__events);
      expect(events).toEqual(expect.arrayContaining(["tokenremoved:YZT0000000000001", "tokeninserted:YZT0000000000001"]));
    });

    it("lets the site ask for a PIN change, typed only into the extension's form", async () => {
      await startCall(page, "changePin", `window.yzt.changePin({ tokenSerial: "YZT0000000000001" })`);
      const form = await waitForDialog(session.browser, "change-pin");
      await form.waitForSelector("input[name=confirmPin]");
      const submit = async (oldPin: string, newPin: string, confirmPin: string) => {
        await fill(form, "input[name=oldPin]", oldPin);
        await fill(form, "input[name=newPin]", newPin);
        await fill(form, "input[name=confirmPin]", confirmPin);
        await press(form, "button[type=submit]");
      };
      await submit(PIN, "24681357", "24681300");
      await form.waitForFunction(() => (document.getElementById("error")?.textContent ?? "").length > 0);
      await submit("00000000", "24681357", "24681357");
      await form.waitForFunction(() => /9/.test(document.getElementById("error")?.textContent ?? ""));
      await submit(PIN, "24681357", "24681357");
      expect(await callResult(page, "changePin")).toMatchObject({ ok: true });
      // Back to the usual PIN, the same way (another process changing it would not be seen by the host's SoftHSM).
      await startCall(page, "changeBack", `window.yzt.changePin({ tokenSerial: "YZT0000000000001" })`);
      const back = await waitForDialog(session.browser, "change-pin");
      await back.type("input[name=oldPin]", "24681357");
      await back.type("input[name=newPin]", PIN);
      await back.type("input[name=confirmPin]", PIN);
      await press(back, "button[type=submit]");
      expect(await callResult(page, "changeBack")).toMatchObject({ ok: true });
    });

    it("makes a second site log in itself instead of riding on the first site's session", async () => {
      const other = await session.browser.newPage();
      try {
        await other.goto(site.secondAllowedUrl);
        await other.waitForFunction(() => typeof window.yzt === "object");
        await startCall(other, "sign", `window.yzt.sign({ certificateId: ${JSON.stringify(signCert.id)}, data: "b3RoZXI=", format: "raw" })`);
        const prompt = await waitForDialog(session.browser, "pin");
        await prompt.waitForSelector("[data-action=cancel]");
        expect(await prompt.evaluate(() => document.getElementById("origin")?.textContent ?? "")).toContain(new URL(site.secondAllowedUrl).host);
        await press(prompt, "[data-action=cancel]");
        expect(await callResult(other, "sign")).toMatchObject({ ok: false, code: "USER_CANCELLED" });
      } finally {
        await other.close();
      }
    });

    /** A PIN dialog, obtained by asking to sign from a site without a session. */
    async function waitForDialogFromSign(from: Page): Promise<Page> {
      await from.evaluate(() => window.yzt.logout());
      await startCall(from, "opener", `window.yzt.sign({ certificateId: ${JSON.stringify(signCert.id)}, data: "eA==", format: "raw" })`);
      const dialog = await waitForDialog(session.browser, "pin");
      await dialog.waitForSelector("[data-action=cancel]");
      return dialog;
    }

    it("shows the 证书助手 popup with the key, certificates, PIN retries, environment check and badge", async () => {
      // Web pages may not navigate to extension pages (Firefox refuses even automation), so an extension
      // page opens the popup, as the toolbar button would.
      const popup = await waitForDialogFromSign(page);
      await popup.evaluate((url) => {
        location.href = url;
      }, `${extensionBase}extension/ui/popup.html`);
      await waitForExtensionPage(session.browser, "/extension/ui/popup.html");
      try {
        await popup.waitForSelector("#certificates [data-certificate-id]", { timeout: 10_000 });
        expect(await popup.$$eval("#certificates [data-certificate-id]", (items) => items.length)).toBe(2);
        const tokens = await popup.$eval("#tokens", (el) => el.textContent ?? "");
        expect(tokens).toContain("BJ-YZT DEMO");
        expect(tokens).toMatch(/10/);
        await popup.click("#run-check");
        await popup.waitForSelector("[data-check=chain][data-status=ok]", { timeout: 10_000 });
        expect(await popup.$$eval("[data-status=error]", (items) => items.length)).toBe(0);
        const badge = await popup.evaluate(() => {
          const api = (globalThis as unknown as { browser?: { action: { getBadgeText(d: object): Promise<string> } }; chrome: { action: { getBadgeText(d: object): Promise<string> } } });
          return (api.browser ?? api.chrome).action.getBadgeText({});
        });
        expect(badge).toBe("✓");
        const stored = await popup.evaluate(async () => {
          const api = (globalThis as unknown as { browser?: { storage: { local: { get(k: null): Promise<unknown> } } }; chrome: { storage: { local: { get(k: null): Promise<unknown> } } } });
          return JSON.stringify(await (api.browser ?? api.chrome).storage.local.get(null));
        });
        // A PIN is a digit run of its own; key serials such as YZT0000000000005 (the picker remembers the
        // last certificate per site) hold longer runs that are not PINs.
        for (const pin of [PIN, WRONG_PIN, "24681357"]) expect(stored).not.toMatch(new RegExp(`(?<![0-9])${pin}(?![0-9])`));
      } finally {
        await popup.close();
      }
    });

    it("explains a locked PIN in the prompt and rejects PIN_LOCKED", async () => {
      // The picker test inserted this key once already: wait for this insertion's event, not that one.
      const seen = await page.evaluate(() => window.__events.length);
      insertToken(vtoken.home, "rsa");
      setRetries(vtoken.home, "rsa", 1);
      try {
        await page.waitForFunction((from) => window.__events.slice(from).includes("tokeninserted:YZT0000000000005"), { timeout: 5000 }, seen);
        const listed = (await page.evaluate(() => window.yzt.listCertificates({ purpose: "sign" }))) as YztCertificate[];
        const rsaId = listed.find((c) => c.tokenSerial === "YZT0000000000005")!.id;
        await startCall(page, "locked", `window.yzt.login({ certificateId: ${JSON.stringify(rsaId)}, challenge: "locked-challenge-0123456789" })`);
        const prompt = await waitForDialog(session.browser, "pin");
        await prompt.waitForSelector("input[name=pin]");
        expect(await prompt.$eval("#retries", (el) => el.textContent ?? "")).toMatch(/1/);
        await prompt.type("input[name=pin]", WRONG_PIN);
        await press(prompt, "button[type=submit]");
        expect(await callResult(page, "locked")).toMatchObject({ ok: false, code: "PIN_LOCKED" });
        await prompt.waitForSelector("#locked:not([hidden])", { timeout: 5000 });
        await prompt.close();
      } finally {
        removeToken(vtoken.home, "rsa");
      }
    });

    it("rejects a pending call with HOST_ERROR when the host dies, then reconnects to a new host", async () => {
      const challenge = `kill-test-challenge-${Date.now()}`;
      await startCall(page, "relogin", `window.yzt.login({ certificateId: ${JSON.stringify(signCert.id)}, challenge: ${JSON.stringify(challenge)} })`);
      const prompt = await waitForDialog(session.browser, "pin");
      await prompt.waitForSelector("input[name=pin]");
      await prompt.type("input[name=pin]", PIN);
      await press(prompt, "button[type=submit]");
      expect(await callResult(page, "relogin")).toMatchObject({ ok: true });
      const starts = readFileSync(join(session.dir, "host.log"), "utf8").split("\n").filter((line) => line.includes('"host started"'));
      const pid = (JSON.parse(starts.at(-1)!) as { pid: number }).pid;
      // A signature far longer than anything the machine's load could add: an answer before it ends is the
      // extension noticing the dead host, not the key finishing.
      const latencyMs = 20_000;
      setLatency(vtoken.home, "demo", latencyMs);
      await startCall(page, "doomed", `window.yzt.sign({ certificateId: ${JSON.stringify(signCert.id)}, data: "ZG9vbWVk", format: "raw" })`);
      await untilBusy(vtoken.home, "demo");
      process.kill(pid, "SIGKILL");
      const started = Date.now();
      expect(await callResult(page, "doomed")).toMatchObject({ ok: false, code: "HOST_ERROR" });
      expect(Date.now() - started).toBeLessThan(latencyMs);
      setLatency(vtoken.home, "demo", 0);
      await page.waitForFunction(() => window.yzt.status().then((s: { host: string }) => s.host === "ok"), { timeout: 10_000, polling: 500 });
      const restarted = readFileSync(join(session.dir, "host.log"), "utf8").split("\n").filter((line) => line.includes('"host started"'));
      expect(restarted.length).toBeGreaterThan(starts.length);
      expect(await page.evaluate(() => window.yzt.listCertificates().then((c: unknown[]) => c.length))).toBe(2);
    });

    it("does not give window.yzt to a site that is not allowed", async () => {
      const other = await session.browser.newPage();
      await other.goto(site.refusedUrl);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await other.evaluate(() => typeof (window as { yzt?: unknown }).yzt)).toBe("undefined");
      await other.close();
    });
  });
}

for (const family of ["chromium", "firefox"] as const) {
  describe(`extension in ${family} without the native host`, () => {
    it("reports HOST_MISSING with install guidance", async () => {
      const vtoken = await cloneVirtualToken();
      const site = await startTestSite(vtoken.manifest.tls);
      const session = await launchBrowser(family, {}, { registerHost: false, site });
      try {
        const page = await session.browser.newPage();
        await page.goto(site.allowedUrl);
        await page.waitForFunction(() => typeof window.yzt === "object");
        expect(await page.evaluate(() => window.yzt.status())).toEqual({ host: "missing", tokens: [] });
        const error = await page.evaluate(() => window.yzt.version().catch((e: { code: string; message: string }) => ({ code: e.code, message: e.message })));
        expect(error.code).toBe("HOST_MISSING");
        expect(error.message).toContain("yzt install");
      } finally {
        await session.close();
        await site.close();
        vtoken.dispose();
      }
    }, 60_000);
  });
}
