/**
 * The certificate's life cycle from the issuer's site (一证通服务平台), in Chromium with the built extension,
 * on each key backend: the demo server serves the tax hall and the issuer site under their real names. The
 * tax hall gets the refusal for every life-cycle function (window.yzt and XTXApp) with the key unchanged;
 * the consent window names site, key and company, cancelling it writes nothing, and closing it while the key
 * is being written tells the page what the write did; a BJCA-style page renews
 * through the XTXApp functions and the new certificate logs into the tax hall (verified by the server kit);
 * a wrong admin PIN shows the admin counter, the right one unlocks with the new PIN typed in extension UI;
 * the popup lists the issuer sites. The window.yzt renewal, in both browsers, is the demo's (demo.test.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issuerOptionsFrom } from "../../demo/issuer.js";
import { startDemoServer, type DemoServer } from "../../demo/server.js";
import { DEFAULT_ISSUER_ORIGINS } from "../../protocol/origin.js";
import { launchBrowser, press, waitForDialog, waitForExtensionPage, type BrowserSession } from "../../scripts/launch-browser.js";
import { REPO_ROOT } from "../../scripts/host-process.js";
import { loopbackAddress } from "../../scripts/test-site.js";
import { callResult, loginWithPin, openApiPage, startCall } from "../support/page-calls.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";
import { rawFrame, sof } from "../support/xtx-frames.js";
import { insertToken, setLatency, setRetries, untilBusy } from "../virtual-token/state.js";

const DEMO_KEY = "YZT0000000000001";

/** A text of the extension's, as its locale files have it. */
function localeMessage(locale: "zh_CN" | "en", name: string): string {
  const messages = JSON.parse(readFileSync(join(REPO_ROOT, "extension", "public", "_locales", locale, "messages.json"), "utf8")) as Record<string, { message: string }>;
  return messages[name]!.message;
}
const RENEWED_KEY = "YZT0000000000004";
const COMPANY = "北京演示科技有限公司";
const PIN = "12345678";
/** A consent window, a key write and a CA round trip: generous under a loaded machine. */
const WRITE_TIMEOUT_MS = 60_000;

interface Container {
  name: string;
  signKeyId: string | null;
  encryptKeyId: string | null;
  signCertificate?: string;
  encryptCertificate?: string;
}

describe(`the certificate's life cycle in chromium (${process.env.YZT_TEST_BACKEND ?? "pkcs11"})`, () => {
  let vtoken: VirtualToken;
  let demo: DemoServer;
  let configDir: string;
  let session: BrowserSession;
  let taxHall: Page;
  let issuer: Page;
  let extensionBase = "";

  const containersOf = (serial: string) => issuer.evaluate((tokenSerial) => window.yzt.listContainers({ tokenSerial }), serial) as Promise<Container[]>;
  const openConsentWindows = async () => {
    const pages = await session.browser.pages();
    return (await Promise.all(pages.map((page) => page.evaluate(() => location.href).catch(() => "")))).filter((href) => href.includes("/consent.html"));
  };

  beforeAll(async () => {
    vtoken = await cloneVirtualToken();
    const tls = vtoken.manifest.tls;
    const start = (port: number) =>
      startDemoServer({ trustedRoots: [vtoken.manifest.pki.chain], host: loopbackAddress(), port, tls: { cert: tls.cert, key: tls.key, hostName: tls.hosts[0]! }, issuer: issuerOptionsFrom(vtoken.manifest) });
    demo = await start(443).catch(() => start(0));
    // Where port 443 may not be bound the issuer site is another origin, which the host's config names.
    configDir = mkdtempSync(join(tmpdir(), "yzt-issuer-config-"));
    const issuerOrigin = new URL(demo.issuerUrl!).origin;
    if (!DEFAULT_ISSUER_ORIGINS.includes(issuerOrigin)) writeFileSync(join(configDir, "config.json"), JSON.stringify({ issuerOrigins: [issuerOrigin] }));
    session = await launchBrowser("chromium", { ...vtoken.hostEnv, YZT_CONFIG_DIR: configDir }, { site: { hostIp: demo.hostIp, caPem: readFileSync(tls.ca, "utf8") } });
    taxHall = await openApiPage(session.browser, demo.url);
    issuer = await openApiPage(session.browser, `${demo.issuerUrl!}renew.html`);
  }, 120_000);

  afterAll(async () => {
    await session?.close();
    await demo?.close();
    vtoken?.dispose();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  it("refuses every life-cycle function to the tax hall, through window.yzt and XTXApp, without a window and with the key unchanged", async () => {
    const before = await containersOf(DEMO_KEY);
    expect(before.length).toBeGreaterThan(0);
    const container = before[0]!.name;
    const calls = {
      listContainers: { tokenSerial: DEMO_KEY },
      generateKeyPair: { tokenSerial: DEMO_KEY, container: "TAX-HALL", keyAlgorithm: "SM2" },
      createCertificateRequest: { tokenSerial: DEMO_KEY, container, subject: `CN=${COMPANY}` },
      importCertificate: { tokenSerial: DEMO_KEY, container, certificate: before[0]!.signCertificate },
      deleteContainer: { tokenSerial: DEMO_KEY, container },
      unlockPin: { tokenSerial: DEMO_KEY, adminPin: vtoken.manifest.soPin, newPin: "11112222" },
    };
    for (const [method, params] of Object.entries(calls)) {
      await startCall(taxHall, method, `window.yzt.${method}(${JSON.stringify(params)})`);
      const outcome = await callResult(taxHall, method);
      expect(outcome, method).toMatchObject({ ok: false, code: "NOT_ALLOWED", data: { refusal: true } });
      expect(outcome.message, method).toContain("一证通服务网点");
    }

    // An XTXApp page on the tax hall: BJCA's failure value and the refusal it has always read.
    const legacy = await session.browser.newPage();
    await legacy.goto(`${demo.url}legacy.html`);
    await legacy.waitForSelector("#env[data-users]", { timeout: 10_000 });
    // BJCA's failure values: "false" from a yes/no function, "" from one that returns text.
    const xtxCalls: Array<[string, string, ...unknown[]]> = [
      ["GenerateKeyPair", "false", DEMO_KEY, "TAX-HALL", "SM2", true],
      ["ExportPKCS10", "", DEMO_KEY, container, `CN=${COMPANY}`, true],
      ["ImportSignCert", "false", DEMO_KEY, container, before[0]!.signCertificate],
      ["DeleteContainer", "false", DEMO_KEY, container],
      ["UnlockUserPass", "false", DEMO_KEY, vtoken.manifest.soPin, "11112222"],
    ];
    for (const [name, failure, ...params] of xtxCalls) {
      expect(await sof(legacy, name, ...params), name).toBe(failure);
      expect(await sof(legacy, "SOF_GetLastErrMsg"), name).toContain(`${name}: `);
    }
    await legacy.close();

    expect(await openConsentWindows()).toEqual([]);
    expect(await containersOf(DEMO_KEY)).toEqual(before);
  });

  it("names the site, the key and the company in the consent window; cancelling it writes nothing", async () => {
    const before = await containersOf(DEMO_KEY);
    await startCall(issuer, "cancelled", `window.yzt.generateKeyPair({ tokenSerial: "${DEMO_KEY}", container: "CANCELLED", keyAlgorithm: "SM2" })`);
    const consent = await waitForDialog(session.browser, "consent");
    extensionBase = (await consent.evaluate(() => location.href)).replace(/extension\/ui\/consent\.html.*$/, "");
    expect(await consent.$eval("#origin", (element) => element.textContent)).toContain(new URL(demo.issuerUrl!).origin);
    expect(await consent.$eval("#holder", (element) => element.textContent)).toBe(COMPANY);
    expect(await consent.$eval("#token", (element) => element.textContent)).toContain(DEMO_KEY);
    expect(await consent.$eval("#what", (element) => element.textContent)).toContain(COMPANY);
    // The issuer site holds no session on the key: the PIN is asked for here, in extension UI.
    expect(await consent.$("#pin-field:not([hidden])")).not.toBeNull();
    await press(consent, "[data-action=cancel]");
    expect(await callResult(issuer, "cancelled")).toMatchObject({ ok: false, code: "USER_CANCELLED" });
    expect(await containersOf(DEMO_KEY)).toEqual(before);
  });

  it("keeps a write that was under way when its consent window closed, and tells the page what came of it", async () => {
    // A slow key (its latency covers key generation): the window is closed while the pair is being made.
    setLatency(vtoken.home, "demo", 5_000);
    try {
      await startCall(issuer, "closed", `window.yzt.generateKeyPair({ tokenSerial: "${DEMO_KEY}", container: "CLOSED-WHILE-WRITING", keyAlgorithm: "SM2" })`);
      const consent = await waitForDialog(session.browser, "consent");
      if (await consent.$("#pin-field:not([hidden])")) await consent.type("input[name=pin]", PIN);
      await press(consent, "button[type=submit]");
      await untilBusy(vtoken.home, "demo");
      // Cancel cannot call a write back: it waits with it.
      expect(await consent.$eval("[data-action=cancel]", (button) => (button as HTMLButtonElement).disabled)).toBe(true);
      await consent.close();
      const outcome = await callResult<{ publicKey: string }>(issuer, "closed");
      expect(outcome.ok, outcome.message).toBe(true);
      expect((await containersOf(DEMO_KEY)).find((container) => container.name === "CLOSED-WHILE-WRITING")?.signPublicKey).toBe(outcome.value!.publicKey);
    } finally {
      setLatency(vtoken.home, "demo", 0);
    }
  });

  it("lists the issuer sites in the 证书助手 popup", async () => {
    const popup = await session.browser.newPage();
    await popup.goto(`${extensionBase}extension/ui/popup.html`);
    await waitForExtensionPage(session.browser, "/extension/ui/popup.html");
    const listed = await popup.waitForSelector("[data-issuer-origin]", { timeout: 10_000 }).then(() => popup.$$eval("[data-issuer-origin]", (items) => items.map((item) => item.getAttribute("data-issuer-origin"))));
    expect(listed).toContain(new URL(demo.issuerUrl!).origin);
    expect(listed).toContain(DEFAULT_ISSUER_ORIGINS[0]);
    await popup.close();
  });

  it("renews a key through BJCA's XTXApp functions on the issuer site, and the new certificate logs into the tax hall", async () => {
    insertToken(vtoken.home, "expiring");
    const [old] = (await issuer.waitForFunction(
      (serial) => window.yzt.listCertificates({ purpose: "sign" }).then((list: Array<{ tokenSerial: string; purpose: string }>) => {
        const found = list.filter((certificate) => certificate.tokenSerial === serial && certificate.purpose !== "encrypt");
        return found.length > 0 ? found : null;
      }),
      { timeout: 20_000, polling: 200 },
      RENEWED_KEY,
    ).then((handle) => handle.jsonValue())) as Array<{ id: string; der: string; subject: Record<string, string> }>;
    const oldKeyId = old!.id.split(":")[1]!;
    const container = "XTX-RENEWED";
    let frameNumber = 0;
    const xtx = (name: string, ...params: unknown[]) => rawFrame(issuer, { xtx_func_name: name, call_cmd_id: `r_${++frameNumber}`, param: params }, false, WRITE_TIMEOUT_MS).then((reply) => reply.retVal);
    /** A write: its consent window is answered (the PIN typed in the first) while the frame waits. */
    const answered = new Set<Page>();
    /** What each window said about the certificate to be written ("" when it named none). */
    const incoming: string[] = [];
    const consented = async (name: string, ...params: unknown[]) => {
      const reply = xtx(name, ...params);
      const consent = await waitForDialog(session.browser, "consent", WRITE_TIMEOUT_MS, answered);
      answered.add(consent);
      incoming.push(await consent.$eval("#new-certificate", (element) => ((element as HTMLElement).hidden ? "" : element.textContent ?? "")));
      if (await consent.$("#pin-field:not([hidden])")) await consent.type("input[name=pin]", PIN);
      await press(consent, "button[type=submit]");
      return reply;
    };

    expect(await xtx("IsContainerExist", RENEWED_KEY, container)).toBe("false");
    expect(await consented("GenerateKeyPair", RENEWED_KEY, container, "SM2", true)).toBe("true");
    expect(await xtx("IsContainerExist", RENEWED_KEY, container)).toBe("true");
    const publicKey = await xtx("ExportPubKey", RENEWED_KEY, container, true);
    const subject = Object.entries(old!.subject).map(([name, value]) => `${name}=${value}`).join(",");
    const request = await xtx("ExportPKCS10", RENEWED_KEY, container, subject, true);
    expect(typeof request).toBe("string");
    const issued = await issuer.evaluate(async (body) => {
      const reply = await fetch("/api/renew", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      return { status: reply.status, ...(await reply.json()) };
    }, { certificate: old!.der, request }) as { status: number; signCertificate: string; encryptCertificate: string; encryptedKeyPair: string };
    expect(issued.status).toBe(200);
    expect(await consented("ImportSignCert", RENEWED_KEY, container, issued.signCertificate)).toBe("true");
    expect(await consented("ImportEncCert", RENEWED_KEY, container, issued.encryptCertificate, issued.encryptedKeyPair)).toBe("true");
    // The old container goes last, named by its certID's key id as tax-hall pages know it.
    expect(await consented("DeleteContainer", RENEWED_KEY, oldKeyId)).toBe("true");

    // The two imports showed whom the new certificates name; the key-pair and delete windows named none.
    expect(incoming.map((text) => text.includes(COMPANY))).toEqual([false, true, true, false]);
    const containers = await containersOf(RENEWED_KEY);
    expect(containers.map((entry) => entry.name)).toEqual([container]);
    expect(containers[0]).toMatchObject({ signCertificate: issued.signCertificate, encryptCertificate: issued.encryptCertificate });
    const renewedId = `${RENEWED_KEY}:${containers[0]!.signKeyId}`;
    expect(publicKey).toBe((await issuer.evaluate((serial) => window.yzt.listContainers({ tokenSerial: serial }), RENEWED_KEY) as Array<{ signPublicKey: string }>)[0]!.signPublicKey);

    // The tax hall's own login: the server kit verifies the token against the configured roots.
    const challenge = await taxHall.evaluate(async () => (await (await fetch("/api/challenge")).json()).challenge as string);
    const login = await loginWithPin<unknown>(session.browser, taxHall, renewedId, PIN, challenge);
    expect(login.ok, login.message).toBe(true);
    const verdict = await taxHall.evaluate(async (token, certificateId) => {
      const reply = await fetch("/api/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token, certificateId }) });
      return { status: reply.status, body: await reply.json() };
    }, login.value, renewedId);
    expect(verdict).toMatchObject({ status: 200, body: { holderName: COMPANY } });
  });

  it("shows the admin counter in the window for a wrong admin PIN, and unlocks with the right one and a new PIN typed there", async () => {
    setRetries(vtoken.home, "demo", 0);
    await startCall(issuer, "wrongAdmin", `window.yzt.unlockPin({ tokenSerial: "${DEMO_KEY}", adminPin: "00000000", newPin: "11112222" })`);
    const wrong = await waitForDialog(session.browser, "consent");
    // The site chose the new PIN: the window says so and asks for none.
    expect(await wrong.$("#site-pin:not([hidden])")).not.toBeNull();
    expect(await wrong.$("#new-pin-fields[hidden]")).not.toBeNull();
    await press(wrong, "button[type=submit]");
    // SKF tells the admin PIN's tries exactly; PKCS#11 only that they are fewer than all (CKF_SO_PIN_COUNT_LOW).
    const skf = vtoken.backend === "skf";
    const counter = skf ? { retriesLeft: 9 } : { retriesLeft: null, countLow: true };
    expect(await callResult(issuer, "wrongAdmin")).toMatchObject({ ok: false, code: "PIN_INCORRECT", data: { pinType: "admin", ...counter } });
    const said = skf ? ["9"] : (["zh_CN", "en"] as const).map((locale) => localeMessage(locale, "adminPinCountLow"));
    await wrong.waitForFunction((texts: string[]) => texts.some((text) => (document.getElementById("error")?.textContent ?? "").includes(text)), { timeout: 10_000 }, said);
    await press(wrong, "[data-action=cancel]");

    await startCall(issuer, "unlock", `window.yzt.unlockPin({ tokenSerial: "${DEMO_KEY}", adminPin: "${vtoken.manifest.soPin}" })`);
    const answered = new Set<Page>([wrong]);
    const right = await waitForDialog(session.browser, "consent", 10_000, answered);
    await right.type("input[name=newPin]", "24681357");
    await right.type("input[name=confirmPin]", "24681357");
    await press(right, "button[type=submit]");
    expect(await callResult(issuer, "unlock")).toMatchObject({ ok: true });
    const login = await loginWithPin(session.browser, taxHall, vtoken.certificateId(DEMO_KEY, "0101"), "24681357");
    expect(login.ok, login.message).toBe(true);
  });
});
