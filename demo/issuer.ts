/**
 * Demo 一证通服务平台 (https://yzt.beijing.gov.cn/): the issuer's own site, where the tax hall's manual sends
 * users to renew a certificate (「证书更新」) and to unlock a locked PIN (「证书解锁」). Its pages drive the key
 * through `window.yzt`'s life-cycle functions, which yzt-bridge gives issuer origins only. Behind them:
 *  - a demo CA (the SM2 demo sub CA of the virtual keys) that issues the renewed signing certificate from the
 *    key's PKCS#10 request, for the subject and credit code of the certificate being renewed;
 *  - a demo KMC that generates the encryption key pair, issues its certificate, and wraps the pair to the new
 *    signing key (GM/T 0016 ENVELOPEDKEYBLOB), as a CA's key-management centre does;
 *  - the keys' administrator PIN, which a real issuer holds for the keys it issued and hands only to its own
 *    unlock page after checking who asks (the demo skips that check: it is a demo).
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { issueCertificate } from "../crypto/certificate-issuer.js";
import { parseCertificate } from "../crypto/certificate.js";
import { readCertificateRequest } from "../crypto/certificate-request.js";
import { encodeEnvelopedKeyBlob, wrapKeyPairFor } from "../crypto/enveloped-key.js";
import { samePublicKey, sm2PublicKeyInfo } from "../crypto/public-key.js";
import { publicPointOfSpki } from "../crypto/sm2-certificate.js";
import { checkChain, parsePemBundle } from "../crypto/chain.js";
import { readX509 } from "../crypto/x509-reader.js";
import { readJson, send, type Handler } from "./http.js";

/** The demo issuer's host name: the default issuer origin of yzt-bridge. */
export const ISSUER_HOST = "yzt.beijing.gov.cn";
const DAY_MS = 86_400_000;
/** 一证通 certificates are issued for two years. */
const VALIDITY_DAYS = 730;
/** What a renewal may not change: the company's name and the certificate's common name. */
const SUBJECT_FIELDS = ["O", "CN"];

export interface IssuerOptions {
  /** PEM of the CA the renewed certificates come from (the SM2 demo sub CA). */
  caCertificate: string;
  /** Its private scalar, hex. */
  caKeyHex: string;
  /** PEM bundle of the roots and CAs whose certificates this issuer renews. */
  trustedChain: string;
  /** The administrator PIN of the keys this issuer issued. */
  adminPin: string;
  now?: () => Date;
}

/** The issuer's pages at the paths its site uses. */
export const ISSUER_PAGES: Record<string, string> = { "/": "issuer-index.html", "/renew.html": "issuer-renew.html", "/unlock.html": "issuer-unlock.html", "/issuer-page.js": "issuer-page.js" };

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

function bytesField(body: Record<string, unknown>, name: string): Buffer {
  const value = body[name];
  if (typeof value !== "string" || value.length === 0) throw Object.assign(new Error(`${name} is required`), { status: 400 });
  return Buffer.from(value, "base64");
}

export function issuerRoutes(options: IssuerOptions): Record<string, Handler> {
  const now = options.now ?? (() => new Date());
  const ca = new X509Certificate(options.caCertificate);
  const caKey = Buffer.from(options.caKeyHex.trim(), "hex");
  const authorities = parsePemBundle(options.trustedChain);

  const refuse = (response: Parameters<Handler>[1], error: string, message: string) => send(response, 400, { error, message });

  return {
    /**
     * Renewal: the certificate being renewed and the key's request for the new one. The new signing certificate
     * names the same company; the KMC's encryption pair is wrapped to the request's (the new) key.
     */
    "POST /api/renew": async (request, response) => {
      const body = await readJson(request);
      const old = parseCertificate(bytesField(body, "certificate"));
      const chain = checkChain(old.der, authorities, now());
      if (chain.status !== "ok") return refuse(response, "certificate", "不是本机构签发的证书 (not a certificate of this issuer)");
      if (old.notAfter < now()) return refuse(response, "expired", "证书已过期，请携带营业执照到一证通服务网点办理 (an expired certificate is renewed at a service point)");
      let csr: ReturnType<typeof readCertificateRequest>;
      try {
        csr = readCertificateRequest(bytesField(body, "request"));
      } catch (error) {
        return refuse(response, "request", `证书申请无效：${error instanceof Error ? error.message : String(error)}`);
      }
      if (csr.keyAlgorithm !== "SM2") return refuse(response, "algorithm", "一证通证书使用 SM2 密钥 (一证通 certificates are SM2)");
      if (samePublicKey(readX509(old.der).spki, csr.publicKey)) return refuse(response, "request", "证书更新须使用新生成的密钥 (renewal needs a new key pair)");
      const notBefore = new Date(now().getTime() - 60_000);
      const notAfter = new Date(notBefore.getTime() + VALIDITY_DAYS * DAY_MS);
      // The new certificate names whom the old one named: a request for anyone else is refused.
      if (!SUBJECT_FIELDS.every((field) => (csr.subject[field] ?? "") === (old.subject[field] ?? ""))) {
        return refuse(response, "subject", `证书申请的主题与原证书不一致 (the request must name ${SUBJECT_FIELDS.map((field) => `${field}=${old.subject[field] ?? ""}`).join(", ")})`);
      }
      const common = { issuerCertificate: new Uint8Array(ca.raw), issuerPrivateKey: caKey, subject: csr.subjectDer, notBefore, notAfter, ...(old.creditCode ? { creditCode: old.creditCode } : {}) };
      const signCertificate = issueCertificate({ ...common, publicKey: csr.publicKey, purpose: "sign" });
      const wrapped = wrapKeyPairFor(publicPointOfSpki(csr.publicKey));
      const encryptCertificate = issueCertificate({ ...common, publicKey: sm2PublicKeyInfo(wrapped.pair.publicKey), purpose: "encrypt" });
      wrapped.privateKey.fill(0); // a real KMC escrows it; the demo has no use for it
      send(response, 200, {
        signCertificate: base64(signCertificate),
        encryptCertificate: base64(encryptCertificate),
        encryptedKeyPair: base64(encodeEnvelopedKeyBlob(wrapped.pair, 4)),
        notAfter: notAfter.toISOString(),
      });
    },
    /** Unlock: the administrator PIN for the key, which the page passes to UnlockUserPass / unlockPin. */
    "POST /api/unlock": async (request, response) => {
      const body = await readJson(request);
      if (typeof body.tokenSerial !== "string" || !/^[\x21-\x7e]{1,64}$/.test(body.tokenSerial)) return refuse(response, "tokenSerial", "tokenSerial is required");
      send(response, 200, { adminPin: options.adminPin });
    },
  };
}

/** The issuer's settings from a provisioned virtual-token home. */
export function issuerOptionsFrom(manifest: { soPin: string; pki: { sm2Intermediate: string; sm2IntermediateKey: string; chain: string } }): IssuerOptions {
  return {
    caCertificate: readFileSync(manifest.pki.sm2Intermediate, "utf8"),
    caKeyHex: readFileSync(manifest.pki.sm2IntermediateKey, "utf8"),
    trustedChain: readFileSync(manifest.pki.chain, "utf8"),
    adminPin: manifest.soPin,
  };
}
