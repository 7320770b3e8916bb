/**
 * The certificate's life cycle for issuer sites (API.md section 4): `window.yzt`'s unlockPin, listContainers,
 * generateKeyPair, createCertificateRequest, importCertificate and deleteContainer, which XTXApp pages reach
 * through GenerateKeyPair, ExportPKCS10, ImportSignCert, UnlockUserPass…. Any other site gets the refusal
 * it always got, and nothing is written. Every write waits for the consent window; the origin is the
 * browser's, never the page's.
 */
import { YztError } from "../../protocol/errors.js";
import type { PageParams } from "../shared/page-protocol.js";
import { ADMIN_PIN_REFUSAL, KEY_WRITE_REFUSAL } from "../shared/refusals.js";
import { withConsent, type ConsentAction, type ConsentInput } from "./consent.js";
import { isIssuerOrigin } from "./issuer-origins.js";
import type { NativeHostClient } from "./native-host-client.js";
import type { Caller } from "./page-calls.js";

type Handler<M extends LifecycleMethod> = (params: PageParams<M>, caller: Caller) => Promise<unknown>;
export type LifecycleMethod = "unlockPin" | "listContainers" | "generateKeyPair" | "createCertificateRequest" | "importCertificate" | "deleteContainer";

async function requireIssuer(host: NativeHostClient, caller: Caller, refusal: string): Promise<void> {
  if (!(await isIssuerOrigin(host, caller.origin))) throw new YztError("NOT_ALLOWED", refusal, { refusal: true });
}

/** The PIN the consent window took, if it asked for one. */
const pinOf = (input: ConsentInput) => (input.pin ? { pin: input.pin } : {});

export function createLifecycleHandlers(host: NativeHostClient): { [M in LifecycleMethod]: Handler<M> } {
  /** A write behind its consent window. */
  const consented = <T>(caller: Caller, action: ConsentAction, params: { tokenSerial: string; container?: string; certificate?: string }, write: (input: ConsentInput) => Promise<T>) =>
    withConsent(host, caller, {
      action, tokenSerial: params.tokenSerial,
      ...(params.container !== undefined ? { container: params.container } : {}),
      ...(params.certificate !== undefined ? { certificate: params.certificate } : {}),
    }, write);

  return {
    async unlockPin(params, caller) {
      await requireIssuer(host, caller, ADMIN_PIN_REFUSAL);
      const request = { action: "unlock" as const, tokenSerial: params.tokenSerial, ...(params.newPin !== undefined ? { newPinFromSite: params.newPin } : {}) };
      await withConsent(host, caller, request, (input) =>
        host.request("unlockPin", { origin: caller.origin, tokenSerial: params.tokenSerial, adminPin: params.adminPin, newPin: input.newPin ?? params.newPin! }),
      );
      return undefined;
    },

    async listContainers(params, caller) {
      await requireIssuer(host, caller, KEY_WRITE_REFUSAL);
      return (await host.request("listContainers", params)).containers;
    },

    async generateKeyPair(params, caller) {
      await requireIssuer(host, caller, KEY_WRITE_REFUSAL);
      return consented(caller, "generateKeyPair", params, (input) => host.request("generateKeyPair", { ...params, origin: caller.origin, ...pinOf(input) }));
    },

    /** Signs with the container's new key, writing nothing: a PIN window only when the site has no session. */
    async createCertificateRequest(params, caller) {
      await requireIssuer(host, caller, KEY_WRITE_REFUSAL);
      const request = (input: ConsentInput) => host.request("createCertificateRequest", { ...params, origin: caller.origin, ...pinOf(input) });
      try {
        return (await request({})).request;
      } catch (error) {
        if (!(error instanceof YztError) || error.code !== "LOGIN_REQUIRED") throw error;
      }
      return (await consented(caller, "certificateRequest", params, request)).request;
    },

    async importCertificate(params, caller) {
      await requireIssuer(host, caller, KEY_WRITE_REFUSAL);
      const action = params.encryptedKeyPair === undefined ? "importSignCertificate" : "importEncryptCertificate";
      return consented(caller, action, params, (input) => host.request("importCertificate", { ...params, origin: caller.origin, ...pinOf(input) }));
    },

    async deleteContainer(params, caller) {
      await requireIssuer(host, caller, KEY_WRITE_REFUSAL);
      await consented(caller, "deleteContainer", params, (input) => host.request("deleteContainer", { ...params, origin: caller.origin, ...pinOf(input) }));
      return undefined;
    },
  };
}
