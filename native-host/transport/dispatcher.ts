/**
 * Maps validated protocol requests to the token service. Every handler receives params already checked by
 * protocol.ts, so this file is only wiring. What only some methods need (diagnostics, chains, verification,
 * envelopes, XML) is imported by those methods on first use: a browser starts the host to list certificates,
 * and the host must answer that without compiling code it does not run.
 */
import type { X509Certificate } from "node:crypto";
import { bindingChecks } from "../token/setup.js";
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
  /** Issuer origins of the config file, told to the extension in `hello`. */
  issuerOrigins?: string[];
  configProblem?: string;
  /** Lifts every quarantined key library (driver processes); returns their paths. */
  liftQuarantine?: () => string[];
}

type Handlers = { [M in Method]: (params: ParamsOf<M>) => Promise<ResultOf[M]> | ResultOf[M] };

export function createDispatcher(context: DispatcherContext): (request: Request) => Promise<unknown> {
  const { service } = context;
  // Read once, on first need (diagnostics, SOF_ValidateCert); repair forgets them.
  let authorities: X509Certificate[] | null = null;
  const authoritiesReader = async () => {
    const { loadAuthorities, SYSTEM_CA_BUNDLES } = await import("../../crypto/chain.js");
    return () => (authorities ??= loadAuthorities([...context.caPaths, ...SYSTEM_CA_BUNDLES]));
  };
  // The bindings first: without one, a whole kind of key library cannot load, whatever else the check finds.
  const diagnoseNow = async () => {
    const { diagnose } = await import("../token/diagnostics.js");
    const result = await diagnose({
      service,
      authorities: await authoritiesReader(),
      ...(context.configProblem ? { configProblem: context.configProblem } : {}),
    });
    return { ...result, checks: [...(await bindingChecks()), ...result.checks] };
  };

  const handlers: Handlers = {
    hello: () => ({
      host: HOST_VERSION,
      protocol: PROTOCOL_VERSION,
      modules: service.libraries.filter((library) => library.error === null && library.health?.state !== "quarantined").map((library) => library.candidate.path),
      ...(context.issuerOrigins?.length ? { issuerOrigins: context.issuerOrigins } : {}),
    }),
    listTokens: () => service.listTokens(),
    listCertificates: (params) => service.listCertificates(params),
    login: (params) => service.login(params),
    sign: (params) => service.sign(params),
    logout: (params) => service.logout(params),
    changePin: (params) => service.changePin(params),
    sessionStatus: (params) => ({ active: service.hasGrant(params.origin, params.tokenSerial) }),
    diagnose: () => diagnoseNow(),
    certificateInfo: async (params) => (await import("../../crypto/certificate.js")).certificateInfo(Buffer.from(params.certificate, "base64")),
    verifyRaw: async (params) => {
      const { verifyRawSignature } = await import("../../crypto/verify-raw.js");
      return { valid: verifyRawSignature(Buffer.from(params.certificate, "base64"), Buffer.from(params.data, "base64"), Buffer.from(params.signature, "base64")) };
    },
    verifyMessage: async (params) => (await import("../../crypto/message-checks.js")).verifyMessage(params),
    validateCertificate: async (params) => {
      const { validateCertificate } = await import("../../crypto/message-checks.js");
      return { status: await validateCertificate(Buffer.from(params.certificate, "base64"), (await authoritiesReader())()) };
    },
    encrypt: async (params) => {
      const { buildEnvelope, publicKeyEncrypt } = await import("../../crypto/envelope.js");
      const certificate = Buffer.from(params.certificate, "base64");
      const data = Buffer.from(params.data, "base64");
      const encrypted = params.format === "raw" ? publicKeyEncrypt(certificate, data) : buildEnvelope(certificate, data, params.cipher);
      return { data: Buffer.from(encrypted).toString("base64") };
    },
    decrypt: (params) => service.decrypt(params),
    signXml: (params) => service.signXml(params),
    verifyXml: async (params) => (await import("../../crypto/xml-signature.js")).verifyXmlDocument(Buffer.from(params.xml, "base64").toString("utf8")),
    unlockPin: (params) => service.unlock({ tokenSerial: params.tokenSerial, soPin: params.adminPin, newPin: params.newPin }),
    listContainers: async (params) => (await service.lifecycle()).listContainers(params),
    generateKeyPair: async (params) => (await service.lifecycle()).generateKeyPair(params),
    createCertificateRequest: async (params) => (await service.lifecycle()).createCertificateRequest(params),
    // A certificate goes onto the key only when it chains to the roots diagnose trusts (config caCertificates, the system's).
    importCertificate: async (params) => (await service.lifecycle()).importCertificate(params, (await authoritiesReader())()),
    deleteContainer: async (params) => (await service.lifecycle()).deleteContainer(params),
    configure: (params) => {
      if (params.idleTimeoutSeconds !== undefined) service.setIdleTimeout(params.idleTimeoutSeconds * 1000);
      return { idleTimeoutSeconds: Math.round(service.idleTimeout / 1000) };
    },
    repair: async () => {
      const actions = ["closed all token sessions", "reloaded the key libraries (PKCS#11, SKF)"];
      // A library set aside after crashing is tried again: the user may have updated its driver.
      for (const path of context.liftQuarantine?.() ?? []) actions.push(`retried the quarantined key library ${path}`);
      authorities = null;
      await service.reload(context.discover());
      await service.librariesAnswered();
      return { ...(await diagnoseNow()), actions };
    },
  };

  return async (request) => (handlers[request.method] as (params: unknown) => Promise<unknown> | unknown)(request.params);
}
