// What the demo issuer site's pages share: element helpers, and listing again whenever yzt-bridge is ready
// or a key is inserted or pulled out while the page is open.
"use strict";
const $ = (id) => document.getElementById(id);
function show(id, cls, text) { const el = $(id); el.className = cls; el.textContent = text; }
/** Runs `load` once window.yzt is there (or it is known not to come), and again on every key event. */
function whenYzt(load) {
  const start = () => load().catch((e) => show("env", "error", e.message));
  if (window.yzt) start(); else window.addEventListener("yzt-ready", start);
  setTimeout(() => { if (!window.yzt) start(); }, 1500);
  if (window.yzt) for (const type of ["tokeninserted", "tokenremoved"]) window.yzt.addEventListener(type, () => start());
}
/** A list row: what it is, and the one button that acts on it (`data`: the button's data attributes). */
function actionRow(text, label, data, action, disabled = false) {
  const li = document.createElement("li");
  li.className = "key";
  li.textContent = `${text} `;
  const button = document.createElement("button");
  button.textContent = label;
  Object.assign(button.dataset, data);
  button.disabled = disabled;
  button.addEventListener("click", () => void action());
  li.append(button);
  return li;
}
/** yzt-bridge's status, or null once the page says why it cannot be used. */
async function readyStatus() {
  if (!window.yzt) { show("env", "error", "未安装 yzt-bridge 扩展，或本网站未获准使用证书。"); return null; }
  const status = await window.yzt.status();
  if (status.host !== "ok") { show("env", "error", "未安装证书应用环境（yzt-bridge）。"); return null; }
  return status;
}
/** POSTs JSON to this site's API; its error as an Error with the server's code. */
async function post(path, body) {
  const reply = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = await reply.json();
  if (!reply.ok) throw Object.assign(new Error(json.message), { code: json.error });
  return json;
}
