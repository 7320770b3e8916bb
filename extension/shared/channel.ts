/** Marker on window.postMessage traffic between the page script and the content script. Kept alone so the MAIN-world script stays tiny. */
export const PAGE_CHANNEL = "yzt-bridge:v1";
