/** pkijs needs a WebCrypto engine; in Node it is @peculiar/webcrypto. Set once, on first use. */
import { Crypto } from "@peculiar/webcrypto";
import * as pkijs from "pkijs";

let engine: Crypto | null = null;

export function ensurePkijsEngine(): Crypto {
  if (!engine) {
    engine = new Crypto();
    pkijs.setEngine("yzt-bridge", new pkijs.CryptoEngine({ name: "yzt-bridge", crypto: engine }));
  }
  return engine;
}
