/**
 * Where users are sent to unlock a locked PIN and to renew a certificate: the issuer's own site,
 * 一证通服务平台 (yzt.beijing.gov.cn, the default issuer origin), whose 「证书服务」 pages do both online
 * through yzt-bridge; the tax hall's manual sends users there too. Kept in one place so a deployment can point
 * them elsewhere. The service points and hotline (_locales serviceContacts) remain for what cannot be done online.
 */
export const HELP_LINKS = {
  unlock: "https://yzt.beijing.gov.cn/",
  renew: "https://yzt.beijing.gov.cn/",
} as const;
