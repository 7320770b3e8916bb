/**
 * The demo tax hall's sessions: who is logged in, behind an HttpOnly cookie. They live in the node that
 * made them (several demo nodes share challenges through Redis, not sessions: behind a load balancer a
 * real site would use sticky sessions or its own session store).
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { cookieHeader, hexCookie } from "./http.js";

const SESSION_COOKIE = "yzt_demo_session";

export interface Session {
  holderName: string;
  creditCode?: string;
  certificateId: string;
}

export class DemoSessions {
  private readonly byId = new Map<string, Session>();

  constructor(private readonly secureCookies: boolean) {}

  /** A new session; returns the Set-Cookie header value that carries it. */
  start(session: Session): string {
    const id = randomBytes(16).toString("hex");
    this.byId.set(id, session);
    return cookieHeader(SESSION_COOKIE, id, this.secureCookies);
  }

  of(request: IncomingMessage): Session | undefined {
    const id = hexCookie(request, SESSION_COOKIE);
    return id ? this.byId.get(id) : undefined;
  }

  end(request: IncomingMessage): void {
    const id = hexCookie(request, SESSION_COOKIE);
    if (id) this.byId.delete(id);
  }
}
