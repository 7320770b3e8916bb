/**
 * A tiny web site for browser tests, served over https under the real tax-hall host names, as API.md
 * section 4 demands (only https tax-hall pages get window.yzt). It listens on a loopback address of its own
 * (127.77.x.y, from the process id: two test files running at once never collide), https on port 443 with
 * the demo TLS certificate (test/virtual-token/tls-pki.ts) and plain http on port 80. The browser launcher
 * maps the host names to that address and trusts the demo CA inside its throw-away profile only
 * (launchBrowser(..., { site })); nothing on the machine resolves or trusts these names otherwise.
 * Without the right to bind ports below 1024 it falls back to free ports (then the URLs carry them).
 */
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { DEMO_TLS_HOSTS, type TlsFiles } from "../test/virtual-token/tls-pki.js";

const [ALLOWED_HOST, SECOND_ALLOWED_HOST, REFUSED_HOST] = DEMO_TLS_HOSTS;
const HTTPS_PORT = 443;
const HTTP_PORT = 80;
/** Loopback addresses tried when one is taken (another site of this process, or a process with a similar id). */
const MAX_ADDRESS_ATTEMPTS = 16;

const PAGE = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>yzt test page</title></head>
<body><h1>测试页面</h1><p id="state">loaded</p></body></html>`;

const escapeAttribute = (text: string) => text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

const framePage = (src: string) => `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>yzt frame page</title></head>
<body><h1>框架页面</h1><iframe id="frame" src="${escapeAttribute(src)}" width="800" height="300"></iframe></body></html>`;

/** What a browser needs to reach the site: the address its host names map to and the CA to trust. */
export interface BrowserSiteAccess {
  hostIp: string;
  caPem: string;
  /** Host names to map to hostIp (default: the demo TLS host names). */
  hosts?: readonly string[];
}

export interface TestSite extends BrowserSiteAccess {
  /** The https port (443 unless that could not be bound). */
  port: number;
  httpPort: number;
  /** https://etax.beijing.chinatax.gov.cn/test.html: allowed by default. */
  allowedUrl: string;
  /** https://tpass.beijing.chinatax.gov.cn/test.html: allowed too, but another origin. */
  secondAllowedUrl: string;
  /** https://etax-phish.example.com/test.html: valid https, not on the allow-list. */
  refusedUrl: string;
  /** http://etax.beijing.chinatax.gov.cn/test.html: an allowed name without TLS. */
  plainHttpUrl: string;
  /** http://<hostIp>/test.html: a loopback origin. */
  loopbackUrl: string;
  /** A page on `base` (default allowedUrl's origin) that shows `src` in an iframe. */
  frameUrl(src: string, base?: string): string;
  /** Bodies the page POSTed to /upload/<name>: large results travel this way instead of through the driver. */
  uploads: Map<string, Buffer>;
  close(): Promise<void>;
}

/** 127.77.(pid >> 8).(pid & 255, kept in 1..254); later attempts move the second byte up. */
export function loopbackAddress(attempt = 0, pid = process.pid): string {
  return `127.${77 + attempt}.${(pid >> 8) & 255}.${((pid & 255) % 254) + 1}`;
}

/** Listens on host:port; when the port is privileged and the process may not bind it (EACCES), on fallbackPort. */
export async function listen(server: Server, host: string, port: number, fallbackPort: number): Promise<number> {
  const attempt = (wanted: number) =>
    new Promise<number>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      server.once("error", onError);
      server.listen(wanted, host, () => {
        server.off("error", onError);
        resolve((server.address() as AddressInfo).port);
      });
    });
  try {
    return await attempt(port);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EACCES") throw error;
    return attempt(fallbackPort);
  }
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    // Browsers keep idle keep-alive connections open; they must not hold the close up.
    server.closeAllConnections();
  });
}

/** `scheme://host[:port]` with the default port left out, as browsers write origins. */
export function siteOrigin(scheme: "https" | "http", host: string, port: number): string {
  const defaultPort = scheme === "https" ? HTTPS_PORT : HTTP_PORT;
  return `${scheme}://${host}${port === defaultPort ? "" : `:${port}`}`;
}

function handler(uploads: Map<string, Buffer>) {
  return (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://site.invalid");
    const upload = /^\/upload\/([\w.-]{1,64})$/.exec(url.pathname);
    if (request.method === "POST" && upload) {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        uploads.set(upload[1]!, Buffer.concat(chunks));
        response.writeHead(204).end();
      });
    } else if (request.method === "GET" && (url.pathname === "/test.html" || url.pathname === "/no-workers.html")) {
      // /no-workers.html: a site whose Content-Security-Policy forbids every worker (blob: and data: too).
      const policy = url.pathname === "/no-workers.html" ? { "content-security-policy": "worker-src 'none'" } : {};
      response.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", ...policy });
      response.end(PAGE);
    } else if (request.method === "GET" && url.pathname === "/frame.html" && /^https?:\/\//.test(url.searchParams.get("src") ?? "")) {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      response.end(framePage(url.searchParams.get("src")!));
    } else {
      response.writeHead(404).end();
    }
  };
}

export interface TestSiteOptions {
  /** Listen on this address (e.g. another site's hostIp, so one browser mapping reaches both). */
  hostIp?: string;
  /** Listen on this https port (0: any free one) instead of 443; plain http then on any free port too. */
  port?: number;
}

/**
 * Starts the site with the demo TLS files (tests: `vtoken.manifest.tls`). More sites at once: the same
 * host names with other ports are other origins, e.g. `startTestSite(tls, { hostIp: site.hostIp, port: 0 })`.
 */
export async function startTestSite(tls: Pick<TlsFiles, "ca" | "cert" | "key">, options: TestSiteOptions = {}): Promise<TestSite> {
  const uploads = new Map<string, Buffer>();
  const caPem = readFileSync(tls.ca, "utf8");
  const onRequest = handler(uploads);
  const https = createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, onRequest) as unknown as Server;
  const http = createHttpServer(onRequest);
  for (let attempt = 0; ; attempt++) {
    const hostIp = options.hostIp ?? loopbackAddress(attempt);
    try {
      const port = await listen(https, hostIp, options.port ?? HTTPS_PORT, 0);
      const httpPort = await listen(http, hostIp, options.port === undefined ? HTTP_PORT : 0, 0).catch(async (error: unknown) => {
        await closeServer(https);
        throw error;
      });
      const allowedOrigin = siteOrigin("https", ALLOWED_HOST, port);
      return {
        hostIp, caPem, hosts: DEMO_TLS_HOSTS, port, httpPort, uploads,
        allowedUrl: `${allowedOrigin}/test.html`,
        secondAllowedUrl: `${siteOrigin("https", SECOND_ALLOWED_HOST, port)}/test.html`,
        refusedUrl: `${siteOrigin("https", REFUSED_HOST, port)}/test.html`,
        plainHttpUrl: `${siteOrigin("http", ALLOWED_HOST, httpPort)}/test.html`,
        loopbackUrl: `${siteOrigin("http", hostIp, httpPort)}/test.html`,
        frameUrl: (src, base = allowedOrigin) => `${new URL(base).origin}/frame.html?src=${encodeURIComponent(src)}`,
        close: async () => {
          await Promise.all([closeServer(https), closeServer(http)]);
        },
      };
    } catch (error) {
      const retry = (error as NodeJS.ErrnoException).code === "EADDRINUSE" && !options.hostIp && attempt + 1 < MAX_ADDRESS_ATTEMPTS;
      if (!retry) throw error;
    }
  }
}
