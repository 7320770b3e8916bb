/**
 * Demo tax hall (网上办税服务厅 演示): a loopback site that uses `window.yzt` the way a real one would.
 * With `tls` it is served over https under a real tax-hall host name (the demo maps that name to the loopback
 * address inside its throw-away browser profile, see scripts/demo.ts), the only way a browser gives it the API;
 * without, plain http on 127.0.0.1, enough for driving the server's checks directly (integration tests).
 * Login: the server issues a single-use challenge, the page returns a LoginToken, the server checks it
 * with verifyLoginToken (origin, challenge, signature, validity, chain). Declarations are signed as
 * detached PKCS#7 inside `yzt.submission()` and checked with verifyCmsSignature.
 */
import { createPrivateKey, randomBytes, sign, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCertificate } from "../native-host/crypto/certificate.js";
import { checkChain, parsePemBundle } from "../native-host/crypto/chain.js";
import { CmsVerificationError, LoginTokenError, verifyCmsSignature, verifyLoginToken } from "../native-host/crypto/verify.js";
import { verifyRawSignature } from "../native-host/crypto/verify-raw.js";
import { packageRoot } from "../native-host/install/paths.js";
import { listDownloads, readDownload } from "./packages.js";

const CHALLENGE_TTL_MS = 5 * 60_000;
const MAX_BODY_BYTES = 4 * 1024 * 1024;
const PAGES = [fileURLToPath(new URL("./pages/", import.meta.url)), fileURLToPath(new URL("../../demo/pages/", import.meta.url))];
const TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".png": "image/png" };

export interface DemoOptions {
  /** Files with the CA certificates (PEM) the tax hall trusts. */
  trustedRoots: string[];
  port?: number;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Serve https with this certificate and key (PEM files) under `hostName`. */
  tls?: { cert: string; key: string; hostName: string };
  /** What the environment page offers for download (default dist/packages of this checkout). */
  packagesDir?: string;
}

export interface DemoServer {
  url: string;
  origin: string;
  /** The address and port it listens on (the host name in `url` maps to hostIp in the demo's browser). */
  hostIp: string;
  port: number;
  /** Declarations accepted so far, for tests and the console. */
  accepted: Array<{ holderName: string; creditCode?: string; data: unknown }>;
  close(): Promise<void>;
}

interface Session {
  holderName: string;
  creditCode?: string;
  certificateId: string;
}

function pageFile(name: string): Buffer | null {
  if (!/^[a-z0-9-]+\.(html|css|js|png)$/.test(name)) return null;
  for (const dir of PAGES) {
    try {
      return readFileSync(join(dir, name));
    } catch {
      // try the next location (sources vs compiled output)
    }
  }
  return null;
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error("request body too large");
    chunks.push(chunk as Buffer);
  }
  const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
  if (typeof parsed !== "object" || parsed === null) throw new Error("expected a JSON object");
  return parsed as Record<string, unknown>;
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers });
  response.end(JSON.stringify(body));
}

export async function startDemoServer(options: DemoOptions): Promise<DemoServer> {
  const packagesDir = options.packagesDir ?? join(packageRoot(), "dist", "packages");
  const trustedRoots = options.trustedRoots.map((path) => readFileSync(path, "utf8"));
  const challenges = new Map<string, number>();
  const sessions = new Map<string, Session>();
  const accepted: DemoServer["accepted"] = [];
  let origin = "";

  /** Single use: whatever happens next, a challenge can be presented only once. */
  const takeChallenge = (value: unknown): boolean => {
    const key = typeof value === "string" ? value : "";
    const expires = challenges.get(key);
    challenges.delete(key);
    return expires !== undefined && expires >= Date.now();
  };
  const issueChallenge = (): string => {
    const challenge = randomBytes(24).toString("base64url");
    challenges.set(challenge, Date.now() + CHALLENGE_TTL_MS);
    return challenge;
  };

  const sessionOf = (request: IncomingMessage): Session | undefined => {
    const id = /(?:^|;\s*)yzt_demo_session=([0-9a-f]{32})/.exec(request.headers.cookie ?? "")?.[1];
    return id ? sessions.get(id) : undefined;
  };

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", origin);
    if (request.method === "GET" && url.pathname === "/api/challenge") return send(response, 200, { challenge: issueChallenge() });
    if (request.method === "POST" && url.pathname === "/api/login") {
      const body = await readJson(request);
      const token = body.token as Record<string, unknown> | undefined;
      const challenge = typeof token?.challenge === "string" ? token.challenge : "";
      // A replayed token finds its challenge gone.
      if (!takeChallenge(challenge)) return send(response, 401, { error: "challenge", message: "登录挑战码无效或已使用 (unknown or used challenge)" });
      try {
        const login = verifyLoginToken(token, { challenge, origin, trustedRoots });
        const id = randomBytes(16).toString("hex");
        sessions.set(id, { holderName: login.holderName, ...(login.creditCode ? { creditCode: login.creditCode } : {}), certificateId: String(body.certificateId ?? "") });
        return send(response, 200, { holderName: login.holderName, creditCode: login.creditCode ?? null }, { "set-cookie": `yzt_demo_session=${id}; HttpOnly; SameSite=Strict; Path=/` });
      } catch (error) {
        if (error instanceof LoginTokenError) return send(response, 401, { error: error.reason, message: error.message });
        throw error;
      }
    }
    // The classic BJCA flow: the server sends a random, the page signs it with SOF_SignData.
    if (request.method === "GET" && url.pathname === "/api/legacy/random") {
      // BJCA's login flow: the page first checks the server's signature over its random (SOF_VerifySignedData).
      const random = issueChallenge();
      const signed = serverSigner ? { serverCert: serverSigner.certificate, serverSignedData: sign("sha256", Buffer.from(random), serverSigner.key).toString("base64") } : {};
      return send(response, 200, { random, ...signed });
    }
    if (request.method === "POST" && url.pathname === "/api/legacy/login") {
      const body = await readJson(request);
      const random = typeof body.random === "string" ? body.random : "";
      if (!takeChallenge(random)) return send(response, 401, { error: "challenge", message: "随机数无效或已使用" });
      if (typeof body.certificate !== "string" || typeof body.signature !== "string") return send(response, 400, { error: "format", message: "certificate and signature are required" });
      const der = Buffer.from(body.certificate, "base64");
      if (!verifyRawSignature(der, Buffer.from(random, "utf8"), Buffer.from(body.signature, "base64"))) {
        return send(response, 401, { error: "signature", message: "签名验证失败" });
      }
      const parsed = parseCertificate(der);
      const chain = checkChain(der, trustedRoots.flatMap((pem) => parsePemBundle(pem)), new Date());
      if (chain.status !== "ok") return send(response, 401, { error: "untrusted", message: "证书不受信任" });
      if (parsed.notAfter < new Date()) return send(response, 401, { error: "expired", message: "证书已过期" });
      return send(response, 200, { holderName: parsed.holderName, creditCode: parsed.creditCode ?? null, uniqueId: parsed.uniqueId ?? null });
    }
    if (request.method === "GET" && url.pathname === "/api/me") {
      const session = sessionOf(request);
      return session ? send(response, 200, session) : send(response, 401, { error: "login", message: "请先登录" });
    }
    if (request.method === "POST" && url.pathname === "/api/declare") {
      const session = sessionOf(request);
      if (!session) return send(response, 401, { error: "login", message: "请先登录" });
      const body = await readJson(request);
      if (typeof body.data !== "string" || typeof body.signature !== "string") return send(response, 400, { error: "format", message: "data and signature are required" });
      const content = Buffer.from(body.data, "base64");
      try {
        const verified = await verifyCmsSignature(Buffer.from(body.signature, "base64"), { content, trustedRoots });
        if (verified.creditCode !== session.creditCode) return send(response, 403, { error: "signer", message: "签名证书与登录企业不一致" });
        const data = JSON.parse(content.toString("utf8")) as unknown;
        accepted.push({ holderName: verified.holderName, ...(verified.creditCode ? { creditCode: verified.creditCode } : {}), data });
        return send(response, 200, { accepted: true, receipt: `SB${Date.now()}`, holderName: verified.holderName });
      } catch (error) {
        if (error instanceof CmsVerificationError) return send(response, 400, { error: error.reason, message: error.message });
        throw error;
      }
    }
    if (request.method === "POST" && url.pathname === "/api/logout") {
      const id = /(?:^|;\s*)yzt_demo_session=([0-9a-f]{32})/.exec(request.headers.cookie ?? "")?.[1];
      if (id) sessions.delete(id);
      return send(response, 200, { loggedOut: true });
    }
    if (request.method === "GET" && url.pathname === "/api/packages") return send(response, 200, { downloads: listDownloads(packagesDir) });
    if (request.method === "GET" && url.pathname.startsWith("/packages/")) {
      const bytes = readDownload(packagesDir, decodeURIComponent(url.pathname.slice("/packages/".length)));
      if (bytes) {
        response.writeHead(200, { "content-type": "application/octet-stream", "content-length": bytes.length, "content-disposition": "attachment" });
        response.end(bytes);
        return;
      }
    }
    if (request.method === "GET") {
      const name = url.pathname === "/" ? "index.html" : url.pathname.slice(1);
      const file = pageFile(name);
      if (file) {
        response.writeHead(200, { "content-type": TYPES[extname(name)] ?? "application/octet-stream", "cache-control": "no-store" });
        response.end(file);
        return;
      }
    }
    send(response, 404, { error: "not found" });
  }

  const onRequest: RequestListener = (request, response) => {
    route(request, response).catch((error: unknown) => send(response, 400, { error: "bad request", message: error instanceof Error ? error.message : String(error) }));
  };
  const tls = options.tls;
  // The server's own signing certificate for the legacy flow: the https certificate, as small sites do.
  const serverSigner = tls ? { key: createPrivateKey(readFileSync(tls.key)), certificate: new X509Certificate(readFileSync(tls.cert)).raw.toString("base64") } : null;
  const server: Server = tls
    ? (createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, onRequest) as unknown as Server)
    : createServer(onRequest);
  const hostIp = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, hostIp, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  origin = tls ? `https://${tls.hostName}${port === 443 ? "" : `:${port}`}` : `http://${hostIp}:${port}`;
  return {
    url: `${origin}/`,
    origin,
    hostIp,
    port,
    accepted,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        // Browsers keep idle keep-alive connections open; they must not hold the close up.
        server.closeAllConnections();
      }),
  };
}
