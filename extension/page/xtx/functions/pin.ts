/**
 * PIN and session functions. SOF_Login takes the PIN from the page, because that is how these pages work;
 * the host rations such PINs (3 wrong in a row, then only the extension's own PIN window), so a script on
 * an allowed site cannot lock the visitor's key.
 */
import { YztError } from "../../bridge.js";
import { tokenSerialOf, xtxCertId } from "../cert-id.js";
import type { XtxContext, XtxFunction } from "../service.js";

async function login(context: XtxContext, id: unknown, pin: unknown): Promise<boolean> {
  const certificate = await context.signCertificate(id);
  await context.bridge.call("xtxLogin", { certificateId: certificate.id, pin: String(pin ?? "") });
  context.lastLoginCertId = xtxCertId(certificate);
  return true;
}

/** Tries left; 0 means locked, as BJCA's service reports it. */
async function retryCount(context: XtxContext, id: unknown): Promise<number> {
  const { pin } = await context.token(id);
  if (pin.locked) return 0;
  if (pin.retriesLeft === null) throw new YztError("INTERNAL", "the key does not say how many tries are left");
  return pin.retriesLeft;
}

export const pinFunctions: Record<string, XtxFunction> = {
  SOF_Login: { kind: "bool", aliases: ["VerifyUserPIN"], run: (context, id, pin) => login(context, id, pin) },
  SOF_LoginEx: { kind: "bool", run: (context, id, pin) => login(context, id, pin) },
  SOF_GetPinRetryCount: { kind: "number", aliases: ["GetUserPINRetryCount"], run: (context, id) => retryCount(context, id) },
  SOF_GetRetryCount: { kind: "number", run: (context, id) => retryCount(context, id) },
  SOF_ChangePassWd: {
    kind: "bool",
    aliases: ["ChangeUserPassword"],
    run: async (context, id, oldPin, newPin) => {
      await context.bridge.call("xtxChangePin", { tokenSerial: tokenSerialOf(id), oldPin: String(oldPin ?? ""), newPin: String(newPin ?? "") });
      return true;
    },
  },
  SOF_IsLogin: {
    kind: "bool",
    run: async (context, id) => (await context.bridge.call<{ active: boolean }>("xtxIsLogin", { tokenSerial: tokenSerialOf(id) })).active,
  },
  SOF_Logout: {
    kind: "bool",
    aliases: ["Logout"],
    run: async (context, id) => {
      // Without a certID (older pages), every session of this site ends.
      if (id === undefined || id === "") await context.bridge.call("logout");
      else await context.bridge.call("xtxLogout", { tokenSerial: tokenSerialOf(id) });
      context.lastLoginCertId = "";
      return true;
    },
  },
  SOF_GetLastLoginCertID: {
    kind: "string",
    run: async (context) => {
      if (!context.lastLoginCertId) throw new YztError("LOGIN_REQUIRED", "no certificate logged in on this page");
      return context.lastLoginCertId;
    },
  },
};
