// Ambient declarations for the Moddable SDK modules xs-ota uses, written by the project from
// shared/reference/moddable-sdk.md (the SDK's own typings are GPL/LGPL and are not copied).
// Reference this file (or list types/moddable in a tsconfig "include") to type-check code that
// imports Moddable module specifiers. Do not combine with the SDK's typings in one program.

/// <reference path="./xs.d.ts" />
/// <reference path="./embedded-storage-flash.d.ts" />
/// <reference path="./flash.d.ts" />
/// <reference path="./preference.d.ts" />
/// <reference path="./http.d.ts" />
/// <reference path="./mqtt.d.ts" />
/// <reference path="./crypt.d.ts" />
/// <reference path="./ecp.d.ts" />
/// <reference path="./curve.d.ts" />
/// <reference path="./ecdsa.d.ts" />
/// <reference path="./rsa.d.ts" />
/// <reference path="./timer.d.ts" />
/// <reference path="./time.d.ts" />
/// <reference path="./net.d.ts" />
/// <reference path="./system.d.ts" />
/// <reference path="./mc-ffi.d.ts" />
/// <reference path="./mc-config.d.ts" />
