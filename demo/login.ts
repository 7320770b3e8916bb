/**
 * The demo tax hall's login endpoints: the reference integration of the server kit (the README's
 * "server kit" section shows `challenge` and `login` as a site would copy them).
 *
 * A challenge is issued from the challenge store (this process's memory, or Redis shared by every node)
 * and bound to the browser that asked for it (a pre-login cookie): presented from another browser it is
 * refused and burnt. verifyLoginToken consumes it once everything else about the token has passed, so a
 * replay — to this node or any other — finds it gone. The classic BJCA flow (a random the page signs with
 * SOF_SignData) uses the same store and the same order: check the signature first, consume last.
 */
import { randomBytes, sign, type KeyObject } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { parseCertificate } from "../crypto/certificate.js";
import { verifyRawSignature } from "../crypto/verify-raw.js";
import { ChallengeStoreError, LoginTokenError, verifyLoginToken, type ChallengeStore } from "../server/index.js";
import { untrustedReason } from "../server/trusted-roots.js";
import { cookieHeader, hexCookie, readJson, send, type Handler } from "./http.js";
import type { DemoSessions } from "./sessions.js";

const CHALLENGE_TTL_SECONDS = 300;
const BROWSER_COOKIE = "yzt_demo_browser";

export interface LoginDeps {
  challenges: ChallengeStore;
  sessions: DemoSessions;
  trustedRoots: string[];
  /** The site's origin (known once the server listens). */
  origin: () => string;
  secureCookies: boolean;
  /** The server's own signing key and certificate (base64 DER) for the legacy flow's random, when served over https. */
  serverSigner: { key: KeyObject; certificate: string } | null;
}

/** The challenge store could not answer (Redis away): "try again later", never a login. */
function storeAnswers(handler: Handler): Handler {
  return async (request, response) => {
    try {
      await handler(request, response);
    } catch (error) {
      if (!(error instanceof ChallengeStoreError)) throw error;
      send(response, 503, { error: "challengeStore", message: `登录服务暂不可用，请稍后重试 (${error.message})` });
    }
  };
}

export function loginRoutes(deps: LoginDeps): Record<string, Handler> {
  const { challenges, sessions, trustedRoots } = deps;

  /** The browser's pre-login id, made (and set as a cookie) on its first challenge. */
  const browserId = (request: IncomingMessage, response: ServerResponse): string => {
    const known = hexCookie(request, BROWSER_COOKIE);
    if (known) return known;
    const id = randomBytes(16).toString("hex");
    response.setHeader("set-cookie", cookieHeader(BROWSER_COOKIE, id, deps.secureCookies));
    return id;
  };

  async function challenge(request: IncomingMessage, response: ServerResponse): Promise<void> {
    send(response, 200, { challenge: await challenges.issue(CHALLENGE_TTL_SECONDS, browserId(request, response)) });
  }

  async function login(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const { token, certificateId } = await readJson(request);
    try {
      const who = await verifyLoginToken(token, {
        origin: deps.origin(), trustedRoots, challengeStore: challenges, challengeBinding: hexCookie(request, BROWSER_COOKIE),
      });
      const cookie = sessions.start({ holderName: who.holderName, ...(who.creditCode ? { creditCode: who.creditCode } : {}), certificateId: String(certificateId ?? "") });
      send(response, 200, { holderName: who.holderName, creditCode: who.creditCode ?? null }, { "set-cookie": cookie });
    } catch (error) {
      if (!(error instanceof LoginTokenError)) throw error;
      // Redis away: the login is refused, and the page is told to try again rather than that the key is bad.
      send(response, error.reason === "challengeStore" ? 503 : 401, { error: error.reason, message: error.message });
    }
  }

  // BJCA's login flow: the page first checks the server's signature over its random (SOF_VerifySignedData).
  async function legacyRandom(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const random = await challenges.issue(CHALLENGE_TTL_SECONDS, browserId(request, response));
    const signer = deps.serverSigner;
    const signed = signer ? { serverCert: signer.certificate, serverSignedData: sign("sha256", Buffer.from(random), signer.key).toString("base64") } : {};
    send(response, 200, { random, ...signed });
  }

  async function legacyLogin(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readJson(request);
    const random = typeof body.random === "string" ? body.random : "";
    if (typeof body.certificate !== "string" || typeof body.signature !== "string") return send(response, 400, { error: "format", message: "certificate and signature are required" });
    const der = Buffer.from(body.certificate, "base64");
    if (!verifyRawSignature(der, Buffer.from(random, "utf8"), Buffer.from(body.signature, "base64"))) {
      return send(response, 401, { error: "signature", message: "签名验证失败" });
    }
    const parsed = parseCertificate(der);
    const now = new Date();
    if (untrustedReason(der, trustedRoots, now)) return send(response, 401, { error: "untrusted", message: "证书不受信任" });
    if (parsed.notAfter < now) return send(response, 401, { error: "expired", message: "证书已过期" });
    if (!(await challenges.consume(random, hexCookie(request, BROWSER_COOKIE)))) return send(response, 401, { error: "challenge", message: "随机数无效或已使用" });
    send(response, 200, { holderName: parsed.holderName, creditCode: parsed.creditCode ?? null, uniqueId: parsed.uniqueId ?? null });
  }

  return {
    "GET /api/challenge": storeAnswers(challenge),
    "POST /api/login": login,
    "GET /api/legacy/random": storeAnswers(legacyRandom),
    "POST /api/legacy/login": storeAnswers(legacyLogin),
  };
}
