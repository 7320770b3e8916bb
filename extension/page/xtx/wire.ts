/**
 * The XTXApp WebSocket wire format, in every variant BJCA's libraries send:
 *   {xtx_func_name, call_cmd_id, param_1..n}            (TypeScript/RxJS clients)
 *   {xtx_func_name, call_cmd_id, param: [...]}          (XTXSAB.js)
 *   both, plus cookie / URL / CLSID / func / token / count  (xtxasyn.js 3.4.1+, the _BJCAWebSign builds)
 * and the reply {call_cmd_id, retVal}, where booleans and numbers travel as strings: the older libraries
 * test `retVal == "true"` and `Number(retVal)`, the newer ones accept strings too.
 */

export interface XtxCall {
  id: string | number;
  name: string;
  params: unknown[];
}

function numberedParams(request: Record<string, unknown>): unknown[] {
  const params: unknown[] = [];
  for (let i = 1; Object.hasOwn(request, `param_${i}`); i++) params.push(request[`param_${i}`]);
  return params;
}

/**
 * One request frame, or null for what is not a call (the empty heartbeats some libraries send every 10 s,
 * malformed JSON, frames without a call id: nobody could match an answer to them).
 */
export function parseCall(frame: unknown): XtxCall | null {
  if (typeof frame !== "string" || frame.trim() === "") return null;
  let request: unknown;
  try {
    request = JSON.parse(frame);
  } catch {
    return null;
  }
  if (typeof request !== "object" || request === null || Array.isArray(request)) return null;
  const fields = request as Record<string, unknown>;
  const id = fields.call_cmd_id;
  if (typeof id !== "string" && typeof id !== "number") return null;
  const name = typeof fields.xtx_func_name === "string" ? fields.xtx_func_name : typeof fields.func === "string" ? fields.func : "";
  const numbered = numberedParams(fields);
  const listed = Array.isArray(fields.param) ? (fields.param as unknown[]) : [];
  // Libraries that send both send the same arguments twice; a library that sends `param: []` for every
  // call and numbered fields as well has its arguments in the numbered ones.
  return { id, name, params: listed.length >= numbered.length ? listed : numbered };
}

export function encodeReply(id: string | number, value: string | boolean | number): string {
  return JSON.stringify({ call_cmd_id: id, retVal: typeof value === "string" ? value : String(value) });
}

/** The unsolicited notice BJCA's service pushes when a USB key is inserted or removed. */
export const USB_KEY_CHANGE = JSON.stringify({ call_cmd_id: "onUsbkeyChange", retVal: "" });
