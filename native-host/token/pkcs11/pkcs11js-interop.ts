/**
 * Imported before graphene-pk11, wherever it is. graphene's modules (TypeScript output) each take pkcs11js
 * through tslib's __importStar, which for a CommonJS module that is not marked as compiled from an ES module
 * copies every export into a new object as a getter: pkcs11js exports some 650 constants and graphene does
 * this in a dozen modules, which was a third of the host's start. Marking pkcs11js `__esModule` (what it is
 * used as) lets __importStar hand the module itself over. A missing pkcs11js is left to graphene to report.
 */
import { createRequire } from "node:module";

try {
  const pkcs11js = createRequire(import.meta.url)("pkcs11js") as Record<string, unknown>;
  if (!("__esModule" in pkcs11js)) Object.defineProperty(pkcs11js, "__esModule", { value: true });
} catch {
  // graphene-pk11 loads it next and fails with the reason setup.ts reports.
}
