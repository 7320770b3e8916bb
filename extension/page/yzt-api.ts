/**
 * `window.yzt` (API.md section 1), injected into the MAIN world of allowed top-level pages at document_start.
 * It only forwards calls to the content script with window.postMessage and turns answers back into promises;
 * it holds no secrets (PINs are typed in extension windows) and every call is validated again by the
 * background, which also takes the origin from the browser rather than from here.
 */
import { createBridge, YztError, type PageBridge } from "./bridge.js";
import { signFromPage } from "./large-sign.js";
import { installXtxCompatibility } from "./xtx/index.js";

type Listener = (event: { tokenSerial?: string }) => void;
type EventType = "tokeninserted" | "tokenremoved" | "sessionended" | "certificateschanged";
const EVENT_TYPES: readonly string[] = ["tokeninserted", "tokenremoved", "sessionended", "certificateschanged"];

function install(): void {
  if (window.top !== window || Object.hasOwn(window, "yzt")) return;
  const bridge: PageBridge = createBridge();
  const listeners = new Map<string, Set<Listener>>();
  const submissions = new Map<number, (error: YztError) => void>();
  let nextSubmissionId = 1;
  const call = <T>(method: string, params: unknown = {}) => bridge.call<T>(method, params);

  bridge.onEvent((type, data) => {
    // The background knows which keys each submission used; it names the ones to abort.
    if (type === "submissionaborted") {
      const { submissionIds, ...detail } = data as { submissionIds?: unknown; tokenSerial?: string };
      for (const id of Array.isArray(submissionIds) ? submissionIds : []) {
        submissions.get(id as number)?.(new YztError("TOKEN_REMOVED", "证书已拔出，请重新插入证书后再提交 (the token was removed)", detail));
      }
      return;
    }
    for (const listener of [...(listeners.get(type) ?? [])]) {
      try {
        listener({ ...data });
      } catch (error) {
        // A failing page listener must not stop the others.
        setTimeout(() => {
          throw error;
        });
      }
    }
  });
  bridge.onReady(() => window.dispatchEvent(new Event("yzt-ready")));
  function checkListener(type: unknown, cb: unknown): asserts cb is Listener {
    if (typeof type !== "string" || !EVENT_TYPES.includes(type)) throw new YztError("BAD_REQUEST", `unknown event type "${String(type)}"`);
    if (typeof cb !== "function") throw new YztError("BAD_REQUEST", "the listener must be a function");
  }

  const api = Object.freeze({
    version: () => call("version"),
    status: () => call("status"),
    listCertificates: (filter?: unknown) => call("listCertificates", filter ?? {}),
    selectCertificate: (options?: unknown) => call("selectCertificate", options ?? {}),
    login: (options: unknown) => call("login", options),
    sign: (options: unknown) => signFromPage(bridge, options),
    changePin: (options: unknown) => call("changePin", options),
    logout: () => call("logout"),
    // The certificate's life cycle: issuer sites only (others get NOT_ALLOWED), each write behind the consent window.
    unlockPin: (options: unknown) => call("unlockPin", options),
    listContainers: (options: unknown) => call("listContainers", options),
    generateKeyPair: (options: unknown) => call("generateKeyPair", options),
    createCertificateRequest: (options: unknown) => call("createCertificateRequest", options),
    importCertificate: (options: unknown) => call("importCertificate", options),
    deleteContainer: (options: unknown) => call("deleteContainer", options),
    async submission<T>(label: string, work: () => Promise<T>, options?: { tokenSerials?: string[] }): Promise<T> {
      if (typeof work !== "function") throw new YztError("BAD_REQUEST", "submission: work must be a function");
      const tokenSerials = options?.tokenSerials;
      if (tokenSerials !== undefined && !Array.isArray(tokenSerials)) throw new YztError("BAD_REQUEST", "submission: tokenSerials must be an array of token serials");
      const submissionId = nextSubmissionId++;
      // The background validates the serials (and refuses the submission if they are not serials).
      await call("submissionBegin", { submissionId, label: String(label).slice(0, 200), ...(tokenSerials ? { tokenSerials: [...tokenSerials] } : {}) });
      let abort!: (error: YztError) => void;
      const removed = new Promise<never>((_, reject) => {
        abort = reject;
      });
      submissions.set(submissionId, abort);
      try {
        // If a key it uses is pulled out, the submission fails at once even if `work` waits on something else.
        return await Promise.race([Promise.resolve().then(work), removed]);
      } finally {
        submissions.delete(submissionId);
        call("submissionEnd", { submissionId }).catch(() => undefined);
      }
    },
    addEventListener(type: EventType, cb: Listener): void {
      checkListener(type, cb);
      let set = listeners.get(type);
      if (!set) listeners.set(type, (set = new Set()));
      set.add(cb);
    },
    removeEventListener(type: EventType, cb: Listener): void {
      checkListener(type, cb);
      listeners.get(type)?.delete(cb);
    },
  });

  Object.defineProperty(window, "yzt", { value: api, writable: false, configurable: false, enumerable: true });
  installXtxCompatibility(bridge);
}

install();
