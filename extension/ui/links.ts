/**
 * Where users are sent for things the extension cannot do: unlocking a locked PIN and renewing a
 * certificate happen at the issuer (Beijing 一证通 is issued by BJCA, 北京数字认证). Kept in one place so a
 * deployment can point them elsewhere. Addresses and contacts as published on BJCA's 一证通 help site
 * (help.bjca.cn/yzt, read 2026-11); the texts that show them are in _locales (serviceContacts).
 */
export const HELP_LINKS = {
  unlock: "https://help.bjca.cn/yzt/",
  renew: "https://help.bjca.cn/yzt/szzs/bl/gx.html",
} as const;
