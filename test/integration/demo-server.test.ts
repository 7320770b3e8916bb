/**
 * The demo tax hall's server-side checks, fed with real LoginTokens and CMS signatures from the native host
 * on the virtual token: it accepts the genuine ones and rejects tampered tokens, another origin, an
 * expired certificate and a replayed challenge. Challenges are bound to the browser that asked for them (a
 * pre-login cookie), so these requests carry it like a browser would.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoServer, type DemoServer } from "../../demo/server.js";
import type { LoginToken } from "../../protocol/types.js";
import { HostProcess } from "../../scripts/host-process.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";
import { insertToken } from "../virtual-token/state.js";

const PIN = "12345678";
let vtoken: VirtualToken;
let host: HostProcess;
let demo: DemoServer;
/** This "browser"'s pre-login cookie, as the demo set it on the first challenge. */
let browser = "";

/** GET as this browser: sends its cookie, keeps the one the demo sets. */
async function browserGet<T>(path: string): Promise<T> {
  const reply = await fetch(`${demo.origin}${path}`, { headers: { cookie: browser } });
  browser = reply.headers.get("set-cookie")?.split(";")[0] ?? browser;
  return (await reply.json()) as T;
}

async function challenge(): Promise<string> {
  return (await browserGet<{ challenge: string }>("/api/challenge")).challenge;
}

async function postLogin(token: unknown): Promise<{ status: number; body: Record<string, unknown>; cookie: string | null }> {
  const reply = await fetch(`${demo.origin}/api/login`, { method: "POST", headers: { "content-type": "application/json", cookie: browser }, body: JSON.stringify({ token }) });
  return { status: reply.status, body: (await reply.json()) as Record<string, unknown>, cookie: reply.headers.get("set-cookie") };
}

async function loginToken(certificateId: string, origin: string, forChallenge: string): Promise<LoginToken> {
  const result = await host.request("login", { certificateId, origin, pin: PIN, challenge: forChallenge });
  return result.loginToken!;
}

beforeAll(async () => {
  vtoken = await cloneVirtualToken();
  insertToken(vtoken.home, "expired");
  host = HostProcess.start({ library: vtoken.library, env: vtoken.env });
  demo = await startDemoServer({ trustedRoots: [vtoken.manifest.pki.chain] });
});
afterAll(async () => {
  await host?.close();
  await demo?.close();
  vtoken?.dispose();
});

describe("demo tax hall server", () => {
  it("logs in with a genuine token and shows the company", async () => {
    const token = await loginToken(vtoken.certificateId("YZT0000000000001", "0101"), demo.origin, await challenge());
    const { status, body, cookie } = await postLogin(token);
    expect(status).toBe(200);
    expect(body).toMatchObject({ holderName: "北京演示科技有限公司", creditCode: vtoken.manifest.tokens[0]!.creditCode });
    expect(cookie).toMatch(/yzt_demo_session=[0-9a-f]{32}; HttpOnly/);
  });

  it("rejects a replayed challenge", async () => {
    const token = await loginToken(vtoken.certificateId("YZT0000000000001", "0101"), demo.origin, await challenge());
    expect((await postLogin(token)).status).toBe(200);
    const replay = await postLogin(token);
    expect(replay).toMatchObject({ status: 401, body: { error: "challenge" } });
  });

  it("rejects a token made for another origin", async () => {
    const token = await loginToken(vtoken.certificateId("YZT0000000000001", "0101"), "https://phishing.example.cn", await challenge());
    expect(await postLogin(token)).toMatchObject({ status: 401, body: { error: "origin" } });
  });

  it("rejects a tampered signature and a swapped certificate", async () => {
    const token = await loginToken(vtoken.certificateId("YZT0000000000001", "0101"), demo.origin, await challenge());
    const signature = Buffer.from(token.signature, "base64");
    signature[10] = signature[10]! ^ 0xff;
    expect(await postLogin({ ...token, signature: signature.toString("base64") })).toMatchObject({ status: 401, body: { error: "signature" } });
    const other = await loginToken(vtoken.certificateId("YZT0000000000001", "0101"), demo.origin, await challenge());
    const encryption = (await host.request("listCertificates", { purpose: "encrypt" }))[0]!;
    expect(await postLogin({ ...other, certificate: encryption.der })).toMatchObject({ status: 401, body: { error: "signature" } });
  });

  it("rejects a token from an expired certificate (made by a key that ignores expiry)", async () => {
    // The host itself refuses expired certificates (CERT_EXPIRED), so sign the login message directly.
    const expired = (await host.request("listCertificates", {})).find((c) => c.tokenSerial === "YZT0000000000003")!;
    await expect(host.request("login", { certificateId: expired.id, origin: demo.origin, pin: PIN })).rejects.toMatchObject({ code: "CERT_EXPIRED" });
    const genuine = await loginToken(vtoken.certificateId("YZT0000000000001", "0101"), demo.origin, await challenge());
    expect(await postLogin({ ...genuine, certificate: expired.der })).toMatchObject({ status: 401 });
  });

  it("logs in the BJCA way (a signed server random) once: a forged signature burns nothing, a replay is refused", async () => {
    const { random } = await browserGet<{ random: string }>("/api/legacy/random");
    const signed = await host.request("sign", { certificateId: vtoken.certificateId("YZT0000000000001", "0101"), origin: demo.origin, pin: PIN, format: "raw", data: Buffer.from(random).toString("base64") });
    const legacyLogin = async (signature: string) => {
      const answer = await fetch(`${demo.origin}/api/legacy/login`, { method: "POST", headers: { "content-type": "application/json", cookie: browser }, body: JSON.stringify({ certificate: signed.certificate, random, signature }) });
      return { status: answer.status, body: (await answer.json()) as Record<string, unknown> };
    };
    const forged = Buffer.from(signed.signature, "base64");
    forged[5] = forged[5]! ^ 0x01;
    expect(await legacyLogin(forged.toString("base64"))).toMatchObject({ status: 401, body: { error: "signature" } });
    expect(await legacyLogin(signed.signature)).toMatchObject({ status: 200, body: { holderName: "北京演示科技有限公司" } });
    expect(await legacyLogin(signed.signature)).toMatchObject({ status: 401, body: { error: "challenge" } });
  });

  it("accepts a declaration signed by the logged-in company and rejects tampered content", async () => {
    const token = await loginToken(vtoken.certificateId("YZT0000000000001", "0101"), demo.origin, await challenge());
    const { cookie } = await postLogin(token);
    const session = cookie!.split(";")[0]!;
    const data = Buffer.from(JSON.stringify({ form: "增值税申报", tax: "3600.00" })).toString("base64");
    const signed = await host.request("sign", { certificateId: vtoken.certificateId("YZT0000000000001", "0101"), origin: demo.origin, format: "pkcs7-detached", data });
    const declare = (body: unknown) => fetch(`${demo.origin}/api/declare`, { method: "POST", headers: { "content-type": "application/json", cookie: session }, body: JSON.stringify(body) });
    const ok = await declare({ data, signature: signed.signature });
    expect(ok.status).toBe(200);
    expect(demo.accepted.at(-1)).toMatchObject({ holderName: "北京演示科技有限公司", data: { tax: "3600.00" } });
    const tampered = Buffer.from(JSON.stringify({ form: "增值税申报", tax: "1.00" })).toString("base64");
    const rejected = await declare({ data: tampered, signature: signed.signature });
    expect(rejected.status).toBe(400);
    expect(await rejected.json()).toMatchObject({ error: "signature" });
    const anonymous = await fetch(`${demo.origin}/api/declare`, { method: "POST", body: JSON.stringify({ data, signature: signed.signature }) });
    expect(anonymous.status).toBe(401);
  });
});
