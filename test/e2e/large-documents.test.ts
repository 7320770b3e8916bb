/**
 * Large documents from a page, in real Chromium and Firefox: 0.9 to 32 MB, attached and detached. The
 * page makes the document itself (the same generator runs here), signs it with window.yzt and uploads the
 * signature to the test site; OpenSSL verifies every one. A host→browser message is capped at 1 MB, so
 * attached signatures of these sizes only work because the extension embeds the content itself.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { YztCertificate } from "../../protocol/types.js";
import { launchBrowser, type BrowserSession } from "../../scripts/launch-browser.js";
import { startTestSite, type TestSite } from "../../scripts/test-site.js";
import { loginWithPin } from "../support/page-calls.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";

const MB = 1_000_000;
const SIZES = [0.9 * MB, 2 * MB, 8 * MB, 32 * 1024 * 1024];
const FORMATS = ["pkcs7-detached", "pkcs7-attached"] as const;

/** Deterministic bytes, generated identically in the page and here. */
function documentBytes(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (Math.imul(i, 2654435761) >>> 24) ^ (i & 0xff);
  return bytes;
}

/** In the page: generate, base64-encode, sign, upload the signature; returns what the test needs to know. */
async function signInPage(page: Page, certificateId: string, size: number, format: string, upload: string) {
  return page.evaluate(
    async (id, n, fmt, url) => {
      const bytes = new Uint8Array(n);
      for (let i = 0; i < n; i++) bytes[i] = (Math.imul(i, 2654435761) >>> 24) ^ (i & 0xff);
      let binary = "";
      for (let i = 0; i < n; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      const data = btoa(binary);
      binary = "";
      try {
        const result = await window.yzt.sign({ certificateId: id, data, format: fmt });
        await fetch(url, { method: "POST", body: result.signature });
        return { ok: true, algorithm: result.algorithm as string };
      } catch (error) {
        const failure = error as { code?: string; message?: string };
        return { ok: false, code: failure.code, message: failure.message };
      }
    },
    certificateId, size, format, upload,
  );
}

for (const family of ["chromium", "firefox"] as const) {
  describe(`large documents in ${family}`, () => {
    let vtoken: VirtualToken;
    let site: TestSite;
    let session: BrowserSession;
    let page: Page;
    let work: string;
    let certificate: YztCertificate;

    beforeAll(async () => {
      vtoken = await cloneVirtualToken();
      site = await startTestSite(vtoken.manifest.tls);
      work = mkdtempSync(join(tmpdir(), "yzt-large-"));
      session = await launchBrowser(family, { YZT_PKCS11_MODULE: vtoken.module, ...vtoken.env }, { site });
      page = await session.browser.newPage();
      await page.goto(site.allowedUrl);
      await page.waitForFunction(() => typeof window.yzt === "object", { timeout: 10_000 });
      certificate = await page.evaluate(() => window.yzt.selectCertificate({ purpose: "sign" }));
      expect((await loginWithPin(session.browser, page, certificate.id, vtoken.manifest.userPin)).ok).toBe(true);
    }, 120_000);

    afterAll(async () => {
      await session?.close();
      await site?.close();
      vtoken?.dispose();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    for (const size of SIZES) {
      for (const format of FORMATS) {
        it(`signs ${(size / MB).toFixed(1)} MB as ${format}; OpenSSL verifies it`, async () => {
          const name = `${format}-${size}`;
          const outcome = await signInPage(page, certificate.id, size, format, `/upload/${name}`);
          expect(outcome).toMatchObject({ ok: true });
          const signature = join(work, `${name}.p7s`);
          writeFileSync(signature, Buffer.from(site.uploads.get(name)!.toString("latin1"), "base64"));
          const content = join(work, "content.bin");
          writeFileSync(content, documentBytes(size));
          const extracted = join(work, "extracted.bin");
          const args = ["cms", "-verify", "-binary", "-inform", "DER", "-in", signature, "-CAfile", vtoken.manifest.pki.chain, "-purpose", "any", "-out", extracted];
          if (format === "pkcs7-detached") args.push("-content", content);
          execFileSync("openssl", args, { stdio: "pipe" });
          if (format === "pkcs7-attached") execFileSync("cmp", [extracted, content]);
          // A signature that verifies with any content would prove nothing: one changed byte must fail.
          if (format === "pkcs7-detached") {
            const changed = documentBytes(size);
            changed[size - 1]! ^= 1;
            writeFileSync(content, changed);
            expect(() => execFileSync("openssl", args, { stdio: "pipe" })).toThrow();
          }
        }, 120_000);
      }
    }

    it("refuses 32 MiB + 1 byte with BAD_REQUEST naming the limit, and keeps working", async () => {
      const outcome = await signInPage(page, certificate.id, 32 * 1024 * 1024 + 1, "pkcs7-detached", "/upload/over");
      expect(outcome).toMatchObject({ ok: false, code: "BAD_REQUEST" });
      expect(outcome.message).toContain(String(32 * 1024 * 1024));
      expect(await signInPage(page, certificate.id, 1000, "pkcs7-attached", "/upload/after")).toMatchObject({ ok: true });
    }, 120_000);
  });
}
