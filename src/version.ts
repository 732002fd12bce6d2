// The version, as build.mjs defines it in the bundles; source runs (tests) are "(development)".
declare const PORTABLE_ATTACH_VERSION: string;

export const VERSION = typeof PORTABLE_ATTACH_VERSION === "string" ? PORTABLE_ATTACH_VERSION : "(development)";
