// The FFI functions this example's manifest declares (mcconfig generates an equivalent typed
// mc.ffi.d.ts in the build; this file is for tsconfig.moddable.json).

declare module "mc/ffi" {
  interface FFIFunctions {
    /** ffi/xsota-ffi.c: esp_ota_get_running_partition()->subtype, or -1. */
    xsota_running_subtype(): number;
  }
}
