/** A tiny loopback web site for browser tests: an allowed origin (127.0.0.1) and a refused one (localhost). */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

const PAGE = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>yzt test page</title></head>
<body><h1>测试页面</h1><p id="state">loaded</p></body></html>`;

export interface TestSite {
  port: number;
  /** Allowed by default (127.0.0.1). */
  allowedUrl: string;
  /** Not on the allow-list (localhost). */
  refusedUrl: string;
  /** Bodies the page POSTed to /upload/<name>: large results travel this way instead of through the driver. */
  uploads: Map<string, Buffer>;
  close(): Promise<void>;
}

export async function startTestSite(): Promise<TestSite> {
  const uploads = new Map<string, Buffer>();
  const server: Server = createServer((request, response) => {
    const upload = /^\/upload\/([\w.-]{1,64})$/.exec(request.url ?? "");
    if (request.method === "POST" && upload) {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        uploads.set(upload[1]!, Buffer.concat(chunks));
        response.writeHead(204).end();
      });
    } else if (request.url?.startsWith("/test.html")) {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      response.end(PAGE);
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    allowedUrl: `http://127.0.0.1:${port}/test.html`,
    refusedUrl: `http://localhost:${port}/test.html`,
    uploads,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        // Browsers keep idle keep-alive connections open; they must not hold the close up.
        server.closeAllConnections();
      }),
  };
}
