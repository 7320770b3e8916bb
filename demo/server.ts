/**
 * Demo tax hall (网上办税服务厅 演示): a loopback site that uses `window.yzt` the way a real one would.
 * With `tls` it is served over https under a real tax-hall host name (the demo maps that name to the loopback
 * address inside its throw-away browser profile, see scripts/demo.ts), the only way a browser gives it the API;
 * without, plain http on 127.0.0.1, enough for driving the server's checks directly (integration tests).
 * Login (demo/login.ts, the server kit's reference integration): the server issues a single-use challenge
 * from its challenge store, the page returns a LoginToken, verifyLoginToken checks it and consumes the
 * challenge. Several demo nodes can share one Redis store (`challengeStore`, `publicOrigin`). Declarations
 * are signed as detached PKCS#7 inside `yzt.submission()` and checked with verifyCmsSignature.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { packageRoot } from "../native-host/install/paths.js";
import { publishedIds } from "../native-host/install/extension-ids.js";
import { CmsVerificationError, memoryChallengeStore, verifyCmsSignature, type ChallengeStore } from "../server/index.js";
import { readJson, send, type Handler } from "./http.js";
import { ISSUER_HOST, ISSUER_PAGES, issuerRoutes, type IssuerOptions } from "./issuer.js";
import { loginRoutes } from "./login.js";
import { listDownloads, readDownload } from "./packages.js";
import { DemoSessions } from "./sessions.js";

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
  /** Where challenges live (default: this process's memory, closed with the server). A store given here is the caller's to close. */
  challengeStore?: ChallengeStore;
  /** The origin pages see when several demo nodes serve one site (default: this server's own). */
  publicOrigin?: string;
  /**
   * Also serve the issuer's site (一证通服务平台, demo/issuer.ts) to requests for its host name on the same
   * address and port: the demo browser maps both names there.
   */
  issuer?: IssuerOptions;
}

export interface DemoServer {
  /** Where this node answers. */
  url: string;
  /** The site's origin, which LoginTokens are made for (`publicOrigin`, else the one of `url`). */
  origin: string;
  /** The address and port it listens on (the host name in `url` maps to hostIp in the demo's browser). */
  hostIp: string;
  port: number;
  /** The issuer site's address when it is served (`issuer`). */
  issuerUrl?: string;
  /** Declarations accepted so far, for tests and the console. */
  accepted: Array<{ holderName: string; creditCode?: string; data: unknown }>;
  close(): Promise<void>;
}

/** The host name a request was made for (its Host header, without the port). */
function hostNameOf(request: IncomingMessage): string {
  return (request.headers.host ?? "").replace(/:\d+$/, "").toLowerCase();
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

export async function startDemoServer(options: DemoOptions): Promise<DemoServer> {
  const packagesDir = options.packagesDir ?? join(packageRoot(), "dist", "packages");
  const trustedRoots = options.trustedRoots.map((path) => readFileSync(path, "utf8"));
  const challenges = options.challengeStore ?? memoryChallengeStore();
  const tls = options.tls;
  const sessions = new DemoSessions(Boolean(tls));
  const accepted: DemoServer["accepted"] = [];
  let origin = "";

  const notLoggedIn = (response: ServerResponse) => send(response, 401, { error: "login", message: "请先登录" });
  const routes: Record<string, Handler> = {
    ...loginRoutes({
      challenges, sessions, trustedRoots, origin: () => origin, secureCookies: Boolean(tls),
      // The server's own signing certificate for the legacy flow: the https certificate, as small sites do.
      serverSigner: tls ? { key: createPrivateKey(readFileSync(tls.key)), certificate: new X509Certificate(readFileSync(tls.cert)).raw.toString("base64") } : null,
    }),
    "GET /api/me": async (request, response) => {
      const session = sessions.of(request);
      return session ? send(response, 200, session) : notLoggedIn(response);
    },
    "POST /api/declare": async (request, response) => {
      const session = sessions.of(request);
      if (!session) return notLoggedIn(response);
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
    },
    "POST /api/logout": async (request, response) => {
      sessions.end(request);
      send(response, 200, { loggedOut: true });
    },
    // The published extension ids let the environment page link each store's listing.
    "GET /api/packages": async (_request, response) => send(response, 200, { downloads: listDownloads(packagesDir), extensionIds: publishedIds(packageRoot()) }),
  };

  const issuerRoutesTable = options.issuer ? issuerRoutes(options.issuer) : null;
  /** The issuer's own pages and API, for requests to its host name; nothing of the tax hall is served there. */
  async function routeIssuer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", `https://${ISSUER_HOST}`);
    const handler = issuerRoutesTable![`${request.method} ${url.pathname}`];
    if (handler) return handler(request, response);
    const name = request.method === "GET" ? (ISSUER_PAGES[url.pathname] ?? (url.pathname === "/style.css" ? "style.css" : null)) : null;
    const file = name ? pageFile(name) : null;
    if (!file || !name) return send(response, 404, { error: "not found" });
    response.writeHead(200, { "content-type": TYPES[extname(name)] ?? "application/octet-stream", "cache-control": "no-store" });
    response.end(file);
  }

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (issuerRoutesTable && hostNameOf(request) === ISSUER_HOST) return routeIssuer(request, response);
    const url = new URL(request.url ?? "/", origin);
    const handler = routes[`${request.method} ${url.pathname}`];
    if (handler) return handler(request, response);
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
  const ownOrigin = tls ? `https://${tls.hostName}${port === 443 ? "" : `:${port}`}` : `http://${hostIp}:${port}`;
  origin = options.publicOrigin ?? ownOrigin;
  return {
    url: `${ownOrigin}/`,
    ...(options.issuer && tls ? { issuerUrl: `https://${ISSUER_HOST}${port === 443 ? "" : `:${port}`}/` } : {}),
    origin,
    hostIp,
    port,
    accepted,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Browsers keep idle keep-alive connections open; they must not hold the close up.
        server.closeAllConnections();
      });
      if (!options.challengeStore) await challenges.close();
    },
  };
}
