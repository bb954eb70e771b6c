// `import config from "mc/config"`: the manifest's "config" object (moddable-sdk.md §8), generated
// by mcconfig; frozen; values can be overridden on the mcconfig command line (key=value).

declare module "mc/config" {
  const config: { readonly [key: string]: unknown };
  export default config;
}
