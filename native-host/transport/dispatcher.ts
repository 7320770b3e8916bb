/**
 * Maps validated protocol requests to the token service. Every handler receives params already checked by
 * protocol.ts, so this file is only wiring.
 */
import { X509Certificate } from "node:crypto";
import { loadAuthorities, SYSTEM_CA_BUNDLES } from "../crypto/chain.js";
import { diagnose } from "../token/diagnostics.js";
import { bindingChecks } from "../token/setup.js";
import { verifyRawSignature } from "../crypto/verify-raw.js";
import { validateCertificate, verifyMessage } from "../crypto/message-checks.js";
import type { Method, ParamsOf, Request, ResultOf } from "../../protocol/messages.js";
import { PROTOCOL_VERSION } from "../../protocol/messages.js";
import type { LibraryCandidate } from "../token/device.js";
import type { TokenService } from "../token/token-service.js";
import { HOST_VERSION } from "../support/version.js";

export interface DispatcherContext {
  service: TokenService;
  /** Fresh module discovery, used by repair. */
  discover: () => LibraryCandidate[];
  caPaths: string[];
  configProblem?: string;
}

type Handlers = { [M in Method]: (params: ParamsOf<M>) => Promise<ResultOf[M]> | ResultOf[M] };

export function createDispatcher(context: DispatcherContext): (request: Request) => Promise<unknown> {
  const { service } = context;
  // Read once, on first need (diagnostics, SOF_ValidateCert); repair forgets them.
  let authorities: X509Certificate[] | null = null;
  const knownAuthorities = () => (authorities ??= loadAuthorities([...context.caPaths, ...SYSTEM_CA_BUNDLES]));
  // The bindings first: without one, a whole kind of key library cannot load, whatever else the check finds.
  const diagnoseNow = async () => {
    const result = await diagnose({
      service,
      authorities: knownAuthorities,
      ...(context.configProblem ? { configProblem: context.configProblem } : {}),
    });
    return { ...result, checks: [...bindingChecks(), ...result.checks] };
  };

  const handlers: Handlers = {
    hello: () => ({
      host: HOST_VERSION,
      protocol: PROTOCOL_VERSION,
      modules: service.libraries.filter((library) => library.error === null).map((library) => library.candidate.path),
    }),
    listTokens: () => service.listTokens(),
    listCertificates: (params) => service.listCertificates(params),
    login: (params) => service.login(params),
    sign: (params) => service.sign(params),
    logout: (params) => service.logout(params),
    changePin: (params) => service.changePin(params),
    sessionStatus: (params) => ({ active: service.hasGrant(params.origin, params.tokenSerial) }),
    diagnose: () => diagnoseNow(),
    certificateInfo: async (params) => (await import("../crypto/certificate.js")).certificateInfo(Buffer.from(params.certificate, "base64")),
    verifyRaw: (params) => ({
      valid: verifyRawSignature(Buffer.from(params.certificate, "base64"), Buffer.from(params.data, "base64"), Buffer.from(params.signature, "base64")),
    }),
    verifyMessage: (params) => verifyMessage(params),
    validateCertificate: async (params) => ({ status: await validateCertificate(Buffer.from(params.certificate, "base64"), knownAuthorities()) }),
    encrypt: async (params) => {
      const { buildEnvelope, publicKeyEncrypt } = await import("../crypto/envelope.js");
      const certificate = Buffer.from(params.certificate, "base64");
      const data = Buffer.from(params.data, "base64");
      const encrypted = params.format === "raw" ? publicKeyEncrypt(certificate, data) : buildEnvelope(certificate, data, params.cipher);
      return { data: Buffer.from(encrypted).toString("base64") };
    },
    decrypt: (params) => service.decrypt(params),
    signXml: (params) => service.signXml(params),
    verifyXml: async (params) => (await import("../crypto/xml-signature.js")).verifyXmlDocument(Buffer.from(params.xml, "base64").toString("utf8")),
    configure: (params) => {
      if (params.idleTimeoutSeconds !== undefined) service.setIdleTimeout(params.idleTimeoutSeconds * 1000);
      return { idleTimeoutSeconds: Math.round(service.idleTimeout / 1000) };
    },
    repair: async () => {
      const actions = ["closed all token sessions", "reloaded the key libraries (PKCS#11, SKF)"];
      authorities = null;
      service.reload(context.discover());
      return { ...(await diagnoseNow()), actions };
    },
  };

  return async (request) => (handlers[request.method] as (params: unknown) => Promise<unknown> | unknown)(request.params);
}
