/**
 * Large documents from a page, in real Chromium and Firefox: 0.9 to 32 MB, attached and detached. The
 * page makes the document itself (the same generator runs here), signs it with window.yzt and uploads the
 * signature to the test site. Both key types users have: the SM2 demo key (hashed with the extension's SM3 in
 * the page script; checked with sm-crypto and OpenSSL's SM3) and an RSA key (checked by `openssl cms -verify`).
 * A host→browser message is capped at 1 MB, so attached signatures of these sizes only work because the
 * extension embeds the content itself.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { YztCertificate } from "../../protocol/types.js";
import { launchBrowser, type BrowserSession } from "../../scripts/launch-browser.js";
import { startTestSite, type TestSite } from "../../scripts/test-site.js";
import { loginWithPin } from "../support/page-calls.js";
import { verifyCmsSignature } from "../../server/index.js";
import * as pkijs from "pkijs";
import { detachContent } from "../../protocol/cms-attach.js";
import { independentlyVerifiesCms, independentlyVerifiesSm2Cms } from "../support/independent-verify.js";
import { insertToken } from "../virtual-token/state.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";

const MB = 1_000_000;
const SIZES = [0.9 * MB, 2 * MB, 8 * MB, 32 * 1024 * 1024];
const FORMATS = ["pkcs7-detached", "pkcs7-attached"] as const;
const KEYS = [{ name: "SM2", serial: "YZT0000000000001" }, { name: "RSA", serial: "YZT0000000000005" }];

/** Deterministic bytes, generated identically in the page and here. */
function documentBytes(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (Math.imul(i, 2654435761) >>> 24) ^ (i & 0xff);
  return bytes;
}

/** In the page: generate, base64-encode, sign, upload the signature; returns what the test needs to know. */
async function signInPage(page: Page, certificateId: string, size: number, format: string, upload: string, more: Record<string, string> = {}) {
  return page.evaluate(
    async (id, n, fmt, url, options) => {
      const bytes = new Uint8Array(n);
      for (let i = 0; i < n; i++) bytes[i] = (Math.imul(i, 2654435761) >>> 24) ^ (i & 0xff);
      let binary = "";
      for (let i = 0; i < n; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      const data = btoa(binary);
      binary = "";
      try {
        const result = await window.yzt.sign({ ...options, certificateId: id, data, format: fmt });
        await fetch(url, { method: "POST", body: result.signature });
        return { ok: true, algorithm: result.algorithm as string };
      } catch (error) {
        const failure = error as { code?: string; message?: string };
        return { ok: false, code: failure.code, message: failure.message };
      }
    },
    certificateId, size, format, upload, more,
  );
}

for (const family of ["chromium", "firefox"] as const) {
  describe(`large documents in ${family}`, () => {
    let vtoken: VirtualToken;
    let site: TestSite;
    let session: BrowserSession;
    let page: Page;
    let work: string;
    const certificates: Record<string, YztCertificate> = {};

    beforeAll(async () => {
      vtoken = await cloneVirtualToken();
      site = await startTestSite(vtoken.manifest.tls);
      work = mkdtempSync(join(tmpdir(), "yzt-large-"));
      session = await launchBrowser(family, vtoken.hostEnv, { site });
      page = await session.browser.newPage();
      await page.goto(site.allowedUrl);
      await page.waitForFunction(() => typeof window.yzt === "object", { timeout: 10_000 });
      insertToken(vtoken.home, "rsa");
      await page.waitForFunction(async () => (await window.yzt.listCertificates()).length === 4, { timeout: 10_000 });
      for (const key of KEYS) {
        const found: YztCertificate[] = await page.evaluate(() => window.yzt.listCertificates({ purpose: "sign" }));
        certificates[key.name] = found.find((c) => c.tokenSerial === key.serial)!;
        expect((await loginWithPin(session.browser, page, certificates[key.name]!.id, vtoken.manifest.userPin)).ok).toBe(true);
      }
    }, 120_000);

    afterAll(async () => {
      await session?.close();
      await site?.close();
      vtoken?.dispose();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    for (const key of KEYS) {
      for (const size of SIZES) {
        for (const format of FORMATS) {
          it(`signs ${(size / MB).toFixed(1)} MB as ${format} with the ${key.name} key; checked independently`, async () => {
            const name = `${key.name}-${format}-${size}`;
            const outcome = await signInPage(page, certificates[key.name]!.id, size, format, `/upload/${name}`);
            expect(outcome).toMatchObject({ ok: true });
            const signature = Buffer.from(site.uploads.get(name)!.toString("latin1"), "base64");
            const content = documentBytes(size);
            expect(independentlyVerifiesCms(signature, content, vtoken.manifest.pki.chain)).toBe(true);
            if (format === "pkcs7-attached") {
              const embedded = await verifyCmsSignature(signature, { trustedRoots: [readFileSync(vtoken.manifest.pki.chain, "utf8")] });
              expect(Buffer.from(embedded.content).equals(content)).toBe(true);
            }
            // A signature that verifies with any content would prove nothing: one changed byte must fail.
            content[size - 1]! ^= 1;
            expect(independentlyVerifiesCms(signature, content, vtoken.manifest.pki.chain)).toBe(false);
          }, 120_000);
        }
      }
    }

    it("passes the SM2 options through the page's own hashing: GM/T 0010 content types and the signer's ID, content off a 3-byte boundary", async () => {
      const size = 2 * MB + 1;
      const outcome = await signInPage(page, certificates.SM2!.id, size, "pkcs7-attached", "/upload/gm", { cmsProfile: "gm", sm2Id: "91110000600001760P" });
      expect(outcome).toMatchObject({ ok: true });
      const signature = Buffer.from(site.uploads.get("gm")!.toString("latin1"), "base64");
      expect(pkijs.ContentInfo.fromBER(new Uint8Array(detachContent(signature).detached)).contentType).toBe("1.2.156.10197.6.1.4.2.2");
      const content = documentBytes(size);
      expect(independentlyVerifiesSm2Cms(signature, content, "91110000600001760P")).toBe(true);
      expect(independentlyVerifiesSm2Cms(signature, content)).toBe(false);
      expect(Buffer.from(detachContent(signature).content).equals(content)).toBe(true);
    }, 120_000);

    it("hashes an SM2 document in a worker, and on the page's own thread where the site's CSP forbids workers", async () => {
      const size = 2 * MB;
      const content = documentBytes(size);
      // Which workers a page starts is visible over CDP only (Chromium); Firefox shows that both ways sign.
      const workersStartedBy = async (tab: Page, upload: string) => {
        const started: string[] = [];
        const onWorker = (worker: { url(): string }) => started.push(worker.url());
        if (family === "chromium") tab.on("workercreated", onWorker);
        const outcome = await signInPage(tab, certificates.SM2!.id, size, "pkcs7-detached", `/upload/${upload}`);
        tab.off("workercreated", onWorker);
        expect(outcome, upload).toMatchObject({ ok: true });
        expect(independentlyVerifiesCms(Buffer.from(site.uploads.get(upload)!.toString("latin1"), "base64"), content, vtoken.manifest.pki.chain), upload).toBe(true);
        return started;
      };
      const started = await workersStartedBy(page, "in-worker");
      if (family === "chromium") expect(started).toEqual([expect.stringMatching(/^blob:/)]);
      const strict = await session.browser.newPage();
      try {
        await strict.goto(new URL("/no-workers.html", site.allowedUrl).href);
        await strict.waitForFunction(() => typeof window.yzt === "object", { timeout: 10_000 });
        expect(await workersStartedBy(strict, "no-workers")).toEqual([]);
      } finally {
        await strict.close();
      }
    }, 120_000);

    it("refuses a hash the key does not use for a large document, as for a small one", async () => {
      for (const size of [1000, 2 * MB]) {
        const outcome = await signInPage(page, certificates.RSA!.id, size, "pkcs7-detached", `/upload/hash-${size}`, { hashAlgorithm: "SM3" });
        expect(outcome, String(size)).toMatchObject({ ok: false, code: "BAD_REQUEST", message: expect.stringContaining("hashAlgorithm") });
      }
    }, 120_000);

    it("refuses a large document whose base64 has a space or a foreign character (checked while it is decoded in the page)", async () => {
      const certificate = certificates.SM2!;
      const outcomes = await page.evaluate(async (id) => {
        const text = new Uint8Array(2 * 1024 * 1024).fill(0x5a).toBase64();
        const middle = text.length / 2;
        const results: string[] = [];
        for (const data of [text.slice(0, middle) + " " + text.slice(middle + 1), text.slice(0, middle) + "*" + text.slice(middle + 1), text.slice(0, -4) + "QR=="]) {
          await window.yzt.sign({ certificateId: id, data, format: "pkcs7-detached" }).then(() => results.push("ok"), (e: { code: string; message: string }) => results.push(`${e.code}: ${e.message}`));
        }
        return results;
      }, certificate.id);
      // "QR==": bits set under the padding, which no encoder writes: not canonical, refused like the others.
      for (const outcome of outcomes) expect(outcome).toMatch(/^BAD_REQUEST: .*base64/);
    }, 120_000);

    it("refuses 32 MiB + 1 byte with BAD_REQUEST naming the limit, and keeps working", async () => {
      const certificate = certificates.SM2!;
      const outcome = await signInPage(page, certificate.id, 32 * 1024 * 1024 + 1, "pkcs7-detached", "/upload/over");
      expect(outcome).toMatchObject({ ok: false, code: "BAD_REQUEST" });
      expect(outcome.message).toContain(String(32 * 1024 * 1024));
      expect(await signInPage(page, certificate.id, 1000, "pkcs7-attached", "/upload/after")).toMatchObject({ ok: true });
    }, 120_000);
  });
}
