/** Sizes of page data (API.md: up to 32 MiB), kept alone so the MAIN-world page script can import them cheaply. */

/** Data at least this large is hashed in the extension when the format allows a digest. */
export const HASH_IN_EXTENSION_BYTES = 256 * 1024;
/** Largest `data` a page may pass (decoded bytes, API.md). */
export const MAX_PAGE_DATA_BYTES = 32 * 1024 * 1024;
