/**
 * The demo tax hall's few HTTP helpers (plain node:http, no framework, so every step of the login a site
 * copies is visible): JSON bodies with a size limit, JSON replies that are never cached, cookies.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** One route: the demo's routes are a table of these, keyed "METHOD /path". */
export type Handler = (request: IncomingMessage, response: ServerResponse) => Promise<void>;

export async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
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

export function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers });
  response.end(JSON.stringify(body));
}

/** The demo's cookies are 32 lower-case hex characters; anything else is no cookie. */
export function hexCookie(request: IncomingMessage, name: string): string | undefined {
  return new RegExp(`(?:^|;\\s*)${name}=([0-9a-f]{32})(?:;|$)`).exec(request.headers.cookie ?? "")?.[1];
}

/** Set-Cookie for a session-scoped, script-invisible, same-site-only cookie (Secure when served over https). */
export function cookieHeader(name: string, value: string, secure: boolean): string {
  return `${name}=${value}; HttpOnly; SameSite=Strict; Path=/${secure ? "; Secure" : ""}`;
}
