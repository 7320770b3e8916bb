/**
 * Why a site may not write to the key, in the words pages have always been told (XTXApp's
 * SOF_GetLastErrMsg, `window.yzt` errors): sites that are not issuer sites get these refusals for the key
 * life-cycle functions, whichever API they call them through.
 */
export const KEY_WRITE_REFUSAL = "网页不能生成密钥或改写证书介质，请到一证通服务网点办理 (pages may not create keys or write to the key; done at the issuer's service point)";
export const ADMIN_PIN_REFUSAL = "管理员口令不能由网页提交：请运行 yzt unlock 或到一证通服务网点解锁 (admin PINs are never taken from a page: use `yzt unlock` or the service point)";
