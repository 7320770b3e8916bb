/**
 * Where users are sent for things the extension cannot do: unlocking a locked PIN and renewing a
 * certificate happen at the issuer (Beijing 一证通 service points / BJCA). Kept in one place so a
 * deployment can point them elsewhere.
 */
export const HELP_LINKS = {
  unlock: "https://www.bjca.org.cn/",
  renew: "https://www.bjca.org.cn/",
} as const;
