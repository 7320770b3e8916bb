/**
 * BJCA XTXApp compatibility in real browsers: the demo's legacy page, written the way xtxasyn.js pages are,
 * works with no BJCA software and no local port — answered by the extension and verified by the server.
 * Each wire variant of BJCA's libraries is sent on sockets of its own; every served function is called;
 * signatures and envelopes are checked with OpenSSL (and our independent SM2 check); a page cannot lock a
 * key with wrong PINs; a slow key and a key pulled out mid-call give BJCA's failure values, never a hang.
 * The page is served over https under a tax-hall host name, so it opens wss://127.0.0.1:21061/xtxapp/.
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
import { createHash } from "node:crypto";
import { verifyCmsSignature } from "../../server/index.js";
import { press, waitForDialog } from "../../scripts/launch-browser.js";
import { independentlyVerifiesCms, opensslVerifiesSm2 } from "../support/independent-verify.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";
import { rawFrame, sof } from "../support/xtx-frames.js";
import { toPem } from "../virtual-token/pem.js";
import { insertToken, removeToken, setLatency, untilBusy } from "../virtual-token/state.js";

const RSA_SERIAL = "YZT0000000000005";

for (const family of ["chromium", "firefox"] as const) {
  describe(`XTXApp compatibility in ${family}`, () => {
    let vtoken: VirtualToken;
    /** BJCA's certID form of a virtual key's certificate, "container/serial", on this run's backend. */
    const xtxCertId = (serial: string, ckaId: string) => {
      const id = vtoken.certificateId(serial, ckaId);
      return `${id.slice(id.lastIndexOf(":") + 1)}/${serial}`;
    };
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
      session = await launchBrowser(family, vtoken.hostEnv, { site: { hostIp: demo.hostIp, caPem: readFileSync(tls.ca, "utf8") } });
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

    it("lists the key's certificate the BJCA way (name||container/SN&&&) and reports a dotted version", async () => {
      const list = await sof(page, "SOF_GetUserList");
      certID = xtxCertId("YZT0000000000001", "0101");
      expect(list).toBe(`北京演示科技有限公司||${certID}&&&`);
      cert = await sof(page, "SOF_ExportUserCert", certID);
      expect(Buffer.from(cert, "base64").subarray(0, 1)[0]).toBe(0x30);
      expect(await sof(page, "SOF_ExportExChangeUserCert", certID)).not.toBe(cert);
      const version = await page.$eval("#env", (el) => (el as HTMLElement).dataset.version ?? "");
      expect(version).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(version >= "3.0" && version >= "2.16" && version >= "2.14").toBe(true); // the libraries' string compares
    });

    it("answers every wire variant the same: param_1..n only, param only, both with cookie/URL/CLSID/func/token/count", async () => {
      const variants: Array<Record<string, unknown>> = [
        { xtx_func_name: "SOF_GetCertInfo", call_cmd_id: "7", param_1: cert, param_2: 17 },
        { xtx_func_name: "SOF_GetCertInfo", call_cmd_id: "i_1", cookie: "JSESSIONID=1", param: [cert, 17] },
        { xtx_func_name: "SOF_GetCertInfo", call_cmd_id: "i_2", URL: "https://etax.beijing.chinatax.gov.cn/x", param: [cert, 17], param_1: cert, param_2: 17, CLSID: "3F367B74-92D9-4C5E-AB93-234F8A91D5E6", func: "SOF_GetCertInfo", token: "t", count: 1 },
      ];
      for (const frame of variants) {
        expect(await rawFrame(page, frame, true)).toEqual({ call_cmd_id: frame.call_cmd_id, retVal: "北京演示科技有限公司" });
      }
      expect(await rawFrame(page, { xtx_func_name: "GetDeviceInfo", call_cmd_id: "i_3", param: [certID, 7] })).toEqual({ call_cmd_id: "i_3", retVal: "HARD" });
      expect(await rawFrame(page, { xtx_func_name: "SOF_IsLogin", call_cmd_id: "i_4", param_1: certID })).toEqual({ call_cmd_id: "i_4", retVal: "false" });
      const reply = await rawFrame(page, { xtx_func_name: "SOF_GetPinRetryCount", call_cmd_id: "i_5", param: [certID] });
      expect(Object.keys(reply).sort()).toEqual(["call_cmd_id", "retVal"]); // never set-cookie or loginError
      expect(reply.retVal).toBe("10");
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
      const seen = await page.$eval("#msg", (el) => ({ ...(el as HTMLElement).dataset }));
      expect(Number(seen.daysLeft)).toBeGreaterThan(700);
      // The unique id the page read with GetExtCertInfoByOID is the one the server found in the certificate.
      expect(seen.uniqueId).toBe(`SF${vtoken.manifest.tokens[0]!.creditCode}`);
      expect(seen.uniqueId).toBe(seen.serverUniqueId);
    });

    it("answers SOF_GetCertInfo with the BJCA type codes", async () => {
      const info = async (type: number) => sof(page, "SOF_GetCertInfo", cert, type);
      expect(await info(1)).toBe("V3");
      expect(await info(2)).toMatch(/^[0-9A-F]{32}$/);
      expect(await info(3)).toBe("SM2"); // the demo key is SM2, like a current 一证通
      expect(await info(8)).toBe("YZT Demo SM2 Sub CA");
      expect(await info(13)).toBe("CN");
      expect(Buffer.from(await info(20), "base64").toString("hex")).toContain("06082a811ccf5501822d"); // SM2 curve OID in the SPKI
      expect(await info(11)).toMatch(/^20\d{12}$/);
      expect(await info(12)).toMatch(/^20\d{12}$/);
      expect(await info(14)).toBe("北京演示科技有限公司");
      expect(await info(17)).toBe("北京演示科技有限公司");
      expect(await info(33)).toContain("O=北京演示科技有限公司");
      expect(await info(34)).toContain("CN=YZT Demo SM2 Sub CA");
      const creditCode = vtoken.manifest.tokens[0]!.creditCode;
      expect(await info(35)).toBe(`SF${creditCode}`);
      expect(await sof(page, "SOF_GetCertInfoByOid", cert, "1.2.156.10260.4.1.4")).toBe(creditCode);
      expect(await sof(page, "SOF_GetCertEntity", cert)).toBe(`SF${creditCode}`);
      expect(await sof(page, "SOF_ValidateCert", cert)).toBe("0");
      expect(await sof(page, "SOF_GetCertInfo", cert, 99)).toBe("");
    });

    it("signs with SOF_SignData / SOF_SignDataBase64 (SM2, base64 DER like BJCA's service) and SOF_SignMessage, all checked independently", async () => {
      const data = Buffer.from("申报数据");
      const raw = await sof(page, "SOF_SignData", certID, "申报数据");
      expect(opensslVerifiesSm2(Buffer.from(cert, "base64"), data, Buffer.from(raw, "base64"))).toBe(true);
      const fromBase64 = await sof(page, "SOF_SignDataBase64", certID, data.toString("base64"));
      expect(opensslVerifiesSm2(Buffer.from(cert, "base64"), data, Buffer.from(fromBase64, "base64"))).toBe(true);
      expect(await sof(page, "SOF_VerifySignedData", cert, "申报数据", raw)).toBe("true");
      expect(await sof(page, "SOF_VerifySignedData", cert, "篡改数据", raw)).toBe("false");
      expect(await sof(page, "SOF_VerifySignedDataBase64", cert, data.toString("base64"), raw)).toBe("true");
      const detached = await sof(page, "SOF_SignMessage", 1, certID, "申报数据");
      expect(independentlyVerifiesCms(Buffer.from(detached, "base64"), data, vtoken.manifest.pki.chain)).toBe(true);
      expect(independentlyVerifiesCms(Buffer.from(detached, "base64"), Buffer.from("篡改数据"), vtoken.manifest.pki.chain)).toBe(false);
      const attached = await sof(page, "SOF_SignMessage", 0, certID, "申报数据");
      expect(independentlyVerifiesCms(Buffer.from(attached, "base64"), data, vtoken.manifest.pki.chain)).toBe(true);
      const verified = await verifyCmsSignature(Buffer.from(attached, "base64"), { trustedRoots: [readFileSync(vtoken.manifest.pki.chain, "utf8")] });
      expect(Buffer.from(verified.content).toString("utf8")).toBe("申报数据");
      const fromBase64Message = await sof(page, "SOF_SignMessageBase64", 0, certID, data.toString("base64"));
      expect(independentlyVerifiesCms(Buffer.from(fromBase64Message, "base64"), data, vtoken.manifest.pki.chain)).toBe(true);
      expect(await sof(page, "SOF_VerifySignedMessage", attached, "")).toBe("true");
      expect(await sof(page, "VerifyDatabyP7", detached, "申报数据")).toBe("true");
      expect(await sof(page, "SOF_VerifySignedMessage", detached, "篡改数据")).toBe("false");
      expect(await sof(page, "SOF_VerifySignedMessageBase64", detached, data.toString("base64"))).toBe("true");
      expect(await sof(page, "SOF_GetInfoFromSignedMessage", attached, 1)).toBe("申报数据");
      expect(await sof(page, "SOF_GetInfoFromSignedMessage", attached, 2)).toBe(cert);
      expect(Buffer.from(await sof(page, "SOF_GetInfoFromSignedMessage", attached, 3), "base64")[0]).toBe(0x30);
      expect(await sof(page, "SOF_GetLastSignDataCertID")).toBe(certID);
    });

    it("encrypts and decrypts with the SM2 key: GM/T 0010 envelopes and SM2 ciphertext, checked with OpenSSL", async () => {
      const encCert = await sof(page, "GetExchCert", certID);
      const escrow = vtoken.manifest.tokens[0]!.certificates.find((c) => c.purpose === "encrypt")!.escrowKey!;
      const ciphertext = await sof(page, "SOF_PubKeyEncrypt", encCert, "国密口令");
      expect(execFileSync("openssl", ["pkeyutl", "-decrypt", "-inkey", escrow], { input: Buffer.from(ciphertext, "base64") }).toString("utf8")).toBe("国密口令");
      expect(await sof(page, "SOF_PriKeyDecrypt", certID, ciphertext)).toBe("国密口令");
      const envelope = await sof(page, "SOF_EncryptData", encCert, "国密数字信封");
      expect(execFileSync("openssl", ["asn1parse", "-inform", "DER"], { input: Buffer.from(envelope, "base64"), encoding: "utf8" })).toContain("1.2.156.10197.6.1.4.2.3");
      expect(await sof(page, "SOF_DecryptData", certID, envelope)).toBe("国密数字信封");
    });

    it("reports login state, random data, hashes, base64, sign method, device facts, errors and logout", async () => {
      expect(await sof(page, "SOF_IsLogin", certID)).toBe("true");
      expect(await sof(page, "SOF_GetLastLoginCertID")).toBe(certID);
      expect(Buffer.from(await sof(page, "SOF_GenRandom", 32), "base64")).toHaveLength(32);
      expect(await sof(page, "SOF_HashData", 1, "申报")).toBe(createHash("sm3").update("申报").digest("base64"));
      expect(await sof(page, "SOF_HashData", 4, "申报")).toBe(createHash("sha256").update("申报").digest("base64"));
      expect(await sof(page, "SOF_Base64Decode", await sof(page, "SOF_Base64Encode", "纳税人"))).toBe("纳税人");
      expect(await sof(page, "SOF_GetSignMethod")).toBe(String(0x00020201)); // SGD_SM3_SM2 for an SM2 key
      expect(await sof(page, "SOF_GetPinRetryCount", certID)).toBe("10");
      expect(await sof(page, "GetDeviceCount")).toBe("1");
      expect(await sof(page, "GetAllDeviceSN")).toBe("YZT0000000000001;");
      expect(await sof(page, "GetDeviceSNByIndex", 0)).toBe("YZT0000000000001");
      expect(await sof(page, "GetDeviceInfo", "YZT0000000000001", 1)).toBe("BJ-YZT DEMO");
      expect(await sof(page, "GetDeviceInfo", certID, 4)).toBe("SM2");
      expect(await sof(page, "IsDeviceExist", "YZT0000000000001")).toBe("true");
      expect(await sof(page, "GetContainerCount", "YZT0000000000001")).toBe("1");
      expect(await sof(page, "SOF_GetAllContainerName", "YZT0000000000001")).toBe(`${certID.split("/")[0]}&&&`);
      // The rarer names and aliases pages use, each once.
      expect(await sof(page, "SOF_GetRetryCount", certID)).toBe("10");
      expect(await sof(page, "SOF_LoginEx", certID, "12345678", 0)).toBe("true");
      expect(await sof(page, "SOF_GetProductVersion")).toMatch(/^\d+(\.\d+){3}$/);
      expect(await sof(page, "GetEnvVersion")).toMatch(/^\d+(\.\d+){3}$/);
      expect(Buffer.from(await sof(page, "GenerateRandom", 24), "base64")).toHaveLength(24);
      expect(await sof(page, "SetSignMethod", 0x00020101)).toBe("0");
      expect(await sof(page, "SOF_GetSignMethod")).toBe(String(0x00020101));
      expect(await sof(page, "GetDeviceInfo", certID, 8)).toContain("yzt-bridge virtual token");
      expect(await sof(page, "GetDeviceInfo", certID, 115)).toBe("20");
      const byP7 = await sof(page, "SignByP7", 1, certID, "别名");
      expect(independentlyVerifiesCms(Buffer.from(byP7, "base64"), Buffer.from("别名"), vtoken.manifest.pki.chain)).toBe(true);
      const encCert = await sof(page, "GetExchCert", certID);
      expect(await sof(page, "SOF_PriKeyDecryptEx", certID, await sof(page, "PubKeyEncrypt", encCert, "别名"))).toBe("别名");
      expect(await sof(page, "DecodeP7Enveloped", certID, await sof(page, "SOF_EncryptDataEx", encCert, "别名"))).toBe("别名");
      expect(await sof(page, "SOF_SignFile", certID, "C:\\申报.pdf")).toBe("");
      expect(await sof(page, "SOF_GetLastErrMsg")).toContain("本机文件");
      expect(await sof(page, "UnlockUserPass", "YZT0000000000001", "87654321", "12345678")).toBe("false");
      expect(await sof(page, "SOF_GetLastErrMsg")).toContain("yzt unlock");
      expect(await sof(page, "SOF_NoSuchFunction")).toBe("");
      expect(await sof(page, "SOF_GetLastError")).not.toBe("0");
      expect(await sof(page, "Logout", certID)).toBe("true");
      expect(await sof(page, "SOF_IsLogin", certID)).toBe("false");
      expect(await sof(page, "SOF_GetLastError")).toBe("0");
    });

    it("encrypts and decrypts with an RSA key: envelopes and PKCS#1 both ways with OpenSSL, SM4 by default, 3DES when set", async () => {
      insertToken(vtoken.home, "rsa");
      await page.waitForSelector("#env[data-users='2']", { timeout: 10_000 });
      const rsaId = xtxCertId(RSA_SERIAL, "0101");
      const token = vtoken.manifest.tokens.find((t) => t.serial === RSA_SERIAL)!;
      const escrow = token.certificates.find((c) => c.purpose === "encrypt")!.escrowKey!;
      const encCert = await sof(page, "GetExchCert", rsaId);
      const encPem = join(work, "enc.pem");
      writeFileSync(encPem, toPem("CERTIFICATE", Buffer.from(encCert, "base64")));
      const openEnvelope = (b64: string) => execFileSync("openssl", ["cms", "-decrypt", "-inform", "DER", "-inkey", escrow, "-recip", encPem], { input: Buffer.from(b64, "base64") }).toString("utf8");
      const envelope = await sof(page, "SOF_EncryptData", encCert, "纳税申报表");
      expect(openEnvelope(envelope)).toBe("纳税申报表");
      expect(execFileSync("openssl", ["cms", "-cmsout", "-print", "-inform", "DER"], { input: Buffer.from(envelope, "base64") }).toString()).toContain("sm4-cbc");
      expect(await sof(page, "SOF_GetEncryptMethod")).toBe(String(0x402));
      expect(await sof(page, "SOF_SetEncryptMethod", 0x2002)).toBe("0");
      const tripleDes = await sof(page, "EncodeP7Enveloped", encCert, "第二份");
      expect(openEnvelope(tripleDes)).toBe("第二份");
      expect(await sof(page, "SOF_SetEncryptMethod", 0x102)).toBe("-1"); // SM1 exists only inside vendor hardware
      expect(await sof(page, "SOF_Login", rsaId, "12345678")).toBe("true");
      // An SKF key opens envelope content inside itself, and GM/T 0016 ciphers are SM4: AES and 3DES content
      // and raw RSA decryption have no SKF form, so there the page gets XTXApp's empty failure answer.
      const onSkf = vtoken.backend === "skf";
      const theirs = execFileSync("openssl", ["cms", "-encrypt", "-binary", "-outform", "DER", onSkf ? "-sm4-cbc" : "-aes256", encPem], { input: Buffer.from("来自服务器的数据") });
      expect(await sof(page, "SOF_DecryptData", rsaId, theirs.toString("base64"))).toBe("来自服务器的数据");
      expect(await sof(page, "DecodeP7Enveloped", rsaId, tripleDes)).toBe(onSkf ? "" : "第二份");
      const pkcs1 = await sof(page, "SOF_PubKeyEncrypt", encCert, "口令");
      expect(execFileSync("openssl", ["pkeyutl", "-decrypt", "-inkey", escrow, "-pkeyopt", "rsa_padding_mode:pkcs1"], { input: Buffer.from(pkcs1, "base64") }).toString()).toBe("口令");
      const theirPkcs1 = execFileSync("openssl", ["pkeyutl", "-encrypt", "-certin", "-inkey", encPem, "-pkeyopt", "rsa_padding_mode:pkcs1"], { input: Buffer.from("秘密") });
      expect(await sof(page, "SOF_PriKeyDecrypt", rsaId, theirPkcs1.toString("base64"))).toBe(onSkf ? "" : "秘密");
      expect(await sof(page, "SOF_DecryptData", rsaId, "bm90IGFuIGVudmVsb3Bl")).toBe("");
      // SOF_SignHashData signs a SHA-256 digest; openssl dgst checks it over the data.
      const hash = createHash("sha256").update("摘要数据").digest("base64");
      const overHash = await sof(page, "SOF_SignHashData", rsaId, hash, 4);
      const signCert = await sof(page, "GetSignCert", rsaId);
      const signPem = join(work, "sign.pem");
      writeFileSync(signPem, toPem("CERTIFICATE", Buffer.from(signCert, "base64")));
      execFileSync("openssl", ["x509", "-in", signPem, "-pubkey", "-noout", "-out", join(work, "sign.pub")]);
      writeFileSync(join(work, "hash.sig"), Buffer.from(overHash, "base64"));
      expect(execFileSync("openssl", ["dgst", "-sha256", "-verify", join(work, "sign.pub"), "-signature", join(work, "hash.sig")], { input: "摘要数据" }).toString()).toContain("Verified OK");
      expect(await sof(page, "GetDeviceCount")).toBe("2");
      expect(await sof(page, "GetDeviceInfo", rsaId, 4)).toBe("RSA");
    });

    it("signs XML documents with enveloped XML-DSig that xmlsec1 verifies (SOF_SignDataXML, SOF_VerifySignedDataXML, SOF_GetXMLSignatureInfo)", async () => {
      const rsaId = xtxCertId(RSA_SERIAL, "0101");
      const xml = '<?xml version="1.0" encoding="UTF-8"?><申报表 期间="2026-11"><纳税人>北京演示科技有限公司</纳税人><税额>1024.00</税额></申报表>';
      const signed = await sof(page, "SOF_SignDataXML", rsaId, xml);
      const path = join(work, "signed.xml");
      writeFileSync(path, signed);
      const pki = vtoken.manifest.pki;
      execFileSync("xmlsec1", ["--verify", "--enabled-key-data", "x509", "--trusted-pem", pki.root, "--untrusted-pem", pki.intermediate, path], { stdio: "pipe" });
      writeFileSync(path, signed.replace("1024.00", "1.00"));
      expect(() => execFileSync("xmlsec1", ["--verify", "--enabled-key-data", "x509", "--trusted-pem", pki.root, "--untrusted-pem", pki.intermediate, path], { stdio: "pipe" })).toThrow();
      expect(await sof(page, "SOF_VerifySignedDataXML", signed)).toBe("true");
      expect(await sof(page, "SOF_VerifySignedDataXML", signed.replace("1024.00", "1.00"))).toBe("false");
      expect(await sof(page, "SOF_GetXMLSignatureInfo", signed, 4)).toBe(await sof(page, "GetSignCert", rsaId));
      expect(await sof(page, "SOF_GetXMLSignatureInfo", signed, 1)).toContain("<税额>1024.00</税额>");
      expect(await sof(page, "SOF_SignDataXML", certID, xml)).toBe(""); // SM2: XML-DSig has no algorithm for it
      expect(await sof(page, "SOF_GetLastErrMsg")).toContain("不支持");
    });

    it("never lets the page take a key below 7 tries: after 3 wrong PINs only the extension's own PIN window is used", async () => {
      const rsaId = xtxCertId(RSA_SERIAL, "0101");
      await sof(page, "SOF_Logout", rsaId);
      for (let attempt = 0; attempt < 3; attempt++) expect(await sof(page, "SOF_Login", rsaId, "00000000")).toBe("false");
      expect(await sof(page, "SOF_GetPinRetryCount", rsaId)).toBe("7");
      // The next page PIN (right or wrong) does not reach the key: our PIN window opens; cancelling it answers false.
      const pending = sof(page, "SOF_Login", rsaId, "00000000");
      const prompt = await waitForDialog(session.browser, "pin");
      await prompt.waitForSelector("[data-action=cancel]");
      await press(prompt, "[data-action=cancel]");
      expect(await pending).toBe("false");
      expect(await sof(page, "SOF_ChangePassWd", rsaId, "00000000", "11112222")).toBe("false");
      expect(await sof(page, "SOF_GetPinRetryCount", rsaId)).toBe("7");
      // The user types the PIN into the extension's window, which shows the site and the tries left.
      const again = sof(page, "VerifyUserPIN", rsaId, "whatever-the-page-says");
      const dialog = await waitForDialog(session.browser, "pin");
      await dialog.waitForSelector("form input[type=password][name=pin]");
      expect(await dialog.$eval("body", (body) => body.textContent ?? "")).toContain("7");
      await dialog.type("input[name=pin]", "12345678");
      await press(dialog, "button[type=submit]");
      expect(await again).toBe("true");
      expect(await sof(page, "SOF_GetPinRetryCount", rsaId)).toBe("10");
      removeToken(vtoken.home, "rsa");
      await page.waitForSelector("#env[data-users='1']", { timeout: 10_000 });
    });

    it("sends onUsbkeyChange when the key is pulled out and put back", async () => {
      removeToken(vtoken.home, "demo");
      await page.waitForSelector("#env[data-users='0']", { timeout: 5000 });
      insertToken(vtoken.home, "demo");
      await page.waitForSelector("#env[data-users='1']", { timeout: 5000 });
      expect(Number(await page.$eval("#env", (el) => (el as HTMLElement).dataset.keyChanges))).toBeGreaterThanOrEqual(2);
    });

    it("changes the PIN with SOF_ChangePassWd and refuses a wrong old PIN", async () => {
      expect(await sof(page, "SOF_ChangePassWd", certID, "00000000", "11223344")).toBe("false");
      expect(await sof(page, "SOF_ChangePassWd", certID, "12345678", "11223344")).toBe("true");
      expect(await sof(page, "SOF_Login", certID, "11223344")).toBe("true");
      expect(await sof(page, "SOF_ChangePassWd", certID, "11223344", "12345678")).toBe("true");
    });

    it("answers BJCA's failure values, never hangs, when the key is slow (800 ms) and pulled out mid-call", async () => {
      setLatency(vtoken.home, "demo", 800);
      try {
        expect(await sof(page, "SOF_Login", certID, "12345678")).toBe("true");
        const latencyMs = 20_000;
        setLatency(vtoken.home, "demo", latencyMs);
        const pending = sof(page, "SOF_SignData", certID, "慢速证书");
        await untilBusy(vtoken.home, "demo");
        const pulledAt = Date.now();
        removeToken(vtoken.home, "demo");
        expect(await pending).toBe("");
        // Answered because the key went, not because the slow signature ended.
        expect(Date.now() - pulledAt).toBeLessThan(latencyMs);
        expect(Number(await sof(page, "SOF_GetLastError"))).toBe(0x0b000101);
        expect(await sof(page, "SOF_GetLastErrMsg")).toContain("证书");
        expect(await sof(page, "SOF_ExportUserCert", certID)).toBe("");
        expect(await sof(page, "SOF_GetPinRetryCount", certID)).toBe("-1");
      } finally {
        setLatency(vtoken.home, "demo", 0);
        insertToken(vtoken.home, "demo");
      }
      await page.waitForSelector("#env[data-users='1']", { timeout: 10_000 });
      expect(await sof(page, "SOF_GetUserList")).toBe(`北京演示科技有限公司||${xtxCertId("YZT0000000000001", "0101")}&&&`);
    });

    it("tells the user and the site when a page uses BJCA's synchronous library, which no extension can answer", async () => {
      await page.evaluate(() => {
        const request = new XMLHttpRequest();
        request.open("POST", "https://127.0.0.1:21061/synctl", false);
        try {
          request.send(JSON.stringify({ url: location.href, func: "SOF_GetVersion" }));
        } catch {
          // No service answers: what the library sees without one.
        }
      });
      await page.waitForSelector("[data-yzt-notice=xtx-sync]", { timeout: 10_000 });
    });
  });
}
