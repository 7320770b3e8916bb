/*
 * Force-included into pkcs11js when the packages compile it (scripts/packaging/linux-payload.ts): binds its
 * dlopen, dlsym, dlerror and dlclose to the symbol versions every glibc of the architecture has had, not to
 * the GLIBC_2.34 ones a compile on Debian 12 picks. Without this the addon needs glibc 2.34 and does not load
 * on 统信 UOS 20 or 麒麟 V10 (glibc 2.28), which the packages' `Depends: libc6 (>= 2.28)` promises.
 */
#if defined(__aarch64__)
#define YZT_DL_VERSION "GLIBC_2.17"
#elif defined(__x86_64__)
#define YZT_DL_VERSION "GLIBC_2.2.5"
#else
#error "no baseline glibc version known for this architecture"
#endif
__asm__(".symver dlopen,dlopen@" YZT_DL_VERSION);
__asm__(".symver dlsym,dlsym@" YZT_DL_VERSION);
__asm__(".symver dlerror,dlerror@" YZT_DL_VERSION);
__asm__(".symver dlclose,dlclose@" YZT_DL_VERSION);
