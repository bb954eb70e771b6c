// XS FFI, `import FFI from "mc/ffi"` (documentation/xs/XS FFI.md, tools/ffi.js). mcconfig generates
// the module, and a typed mc.ffi.d.ts, from the app manifest's "ffi": {"functions": {...}}; this is
// the fallback declaration. Written from shared/reference/moddable-sdk.md §6.2.
// All arguments are required; 64-bit integers are BigInt; pointers are ArrayBuffers.

declare module "mc/ffi" {
  /**
   * One method per function declared in the manifest. Augment this interface for the functions
   * an app declares, e.g. `declare module "mc/ffi" { interface FFIFunctions { my_fn(): number } }`.
   */
  export interface FFIFunctions {
    /** ESP-IDF esp_restart(): `"esp_restart": {"arguments": [], "returns": "void"}`. */
    esp_restart(): void;
  }
  const FFI: new () => FFIFunctions;
  export default FFI;
}
