/** Text as XTXApp functions take and give it: page strings are UTF-8 bytes, binary values base64. */
import { base64ToBytes, bytesToBase64 } from "../../../shared/base64.js";
import { isBase64 } from "../../../../protocol/validate.js";
import { YztError } from "../../bridge.js";

export function utf8Base64(text: unknown): string {
  return bytesToBase64(new TextEncoder().encode(String(text ?? "")));
}

export function base64Utf8(base64: string): string {
  return new TextDecoder().decode(base64ToBytes(base64));
}

/** A base64 argument, refused with BAD_REQUEST (never passed on) when it is not base64. */
export function base64Argument(value: unknown, name: string): string {
  const text = String(value ?? "").replace(/[\r\n]/g, "");
  if (text === "" || !isBase64(text)) throw new YztError("BAD_REQUEST", `${name}: expected base64`);
  return text;
}
