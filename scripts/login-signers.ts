/**
 * LoginTokens made in this process, for load and server-kit tests where a USB key (or the virtual token)
 * would be the bottleneck and the server is what is measured: an RSA-2048 and an SM2 company key, each
 * under its own throw-away demo CA chain (test/virtual-token/demo-pki.ts), signing exactly what
 * `yzt.login` signs (API.md: SHA-256(origin) || SHA-256(challenge); RS256 or SM2SM3 as r‖s).
 */
import { createPrivateKey, sign, type KeyObject } from "node:crypto";
import { LOGIN_TOKEN_FORMAT, loginMessage } from "../protocol/login-token.js";
import type { LoginToken } from "../protocol/types.js";
import { sm2Digest, sm2Sign } from "../crypto/sm2.js";
import {
  companySubject, createDemoCa, creditCodeWithCheck, DAY, generateKeyPair, generateSm2Key, issueCertificate, privateKeyPem,
  type CertificateSpec, type DemoCa,
} from "../test/virtual-token/demo-pki.js";

export interface LoginSigner {
  /** Row label: "RSA-2048" or "SM2 (国密)". */
  name: string;
  holderName: string;
  sign(origin: string, challenge: string): LoginToken;
}

export interface LoginSigners {
  rsa: LoginSigner;
  sm2: LoginSigner;
  /** Both chains' root and sub CA certificates, one PEM bundle: what a site passes as trustedRoots. */
  trustedRootsPem: string;
}

function token(certificate: Uint8Array, algorithm: LoginToken["algorithm"], origin: string, challenge: string, signature: Uint8Array): LoginToken {
  return {
    format: LOGIN_TOKEN_FORMAT, certificate: Buffer.from(certificate).toString("base64"), algorithm,
    origin, challenge, signature: Buffer.from(signature).toString("base64"),
  };
}

/** A signing certificate for `company` under the CA's sub CA, valid from a day ago for a year. */
function companyCertificate(ca: DemoCa, company: string, creditCode: string, publicKey: CertificateSpec["publicKey"], now: Date) {
  return issueCertificate({
    subject: companySubject(company, creditCode), publicKey, creditCode,
    issuer: { certificate: ca.intermediate.certificate, privateKey: ca.intermediateKey },
    notBefore: new Date(now.getTime() - DAY), notAfter: new Date(now.getTime() + 365 * DAY),
    keyUsage: ["digitalSignature", "nonRepudiation"],
  });
}

export async function createLoginSigners(now = new Date()): Promise<LoginSigners> {
  const [rsaCa, sm2Ca] = await Promise.all([createDemoCa(now, "RSA"), createDemoCa(now, "SM2")]);

  const rsaKey = await generateKeyPair("RSA");
  const rsaHolder = "北京负载测试科技有限公司";
  const rsaCertificate = await companyCertificate(rsaCa, rsaHolder, creditCodeWithCheck("91110108MA01BENC0"), rsaKey.publicKey, now);
  const rsaPrivate: KeyObject = createPrivateKey(await privateKeyPem(rsaKey));

  const sm2Key = generateSm2Key();
  const sm2Holder = "北京负载测试国密有限公司";
  const sm2Certificate = await companyCertificate(sm2Ca, sm2Holder, creditCodeWithCheck("91110108MA01BENC1"), sm2Key, now);
  const { d, point } = sm2Key.material;

  return {
    rsa: {
      name: "RSA-2048",
      holderName: rsaHolder,
      sign: (origin, challenge) => token(rsaCertificate.der, "RS256", origin, challenge, sign("sha256", loginMessage(origin, challenge), rsaPrivate)),
    },
    sm2: {
      name: "SM2 (国密)",
      holderName: sm2Holder,
      sign: (origin, challenge) => token(sm2Certificate.der, "SM2SM3", origin, challenge, sm2Sign(d, sm2Digest(point, loginMessage(origin, challenge)))),
    },
    trustedRootsPem: [rsaCa.root, rsaCa.intermediate, sm2Ca.root, sm2Ca.intermediate].map((c) => c.pem).join(""),
  };
}
