// `import {Digest} from "crypt"`. Written from shared/reference/moddable-sdk.md §5 and
// modules/crypt/digest/crypt.js. Manifest: $(MODULES)/crypt/digest/manifest.json (preloads "crypt").
// Only Digest is declared (BlockCipher, StreamCipher, Mode and GHASH are not used by xs-ota).

declare module "crypt" {
  /** "GHASH" exists too but needs the GHASH subclass. An unknown name throws "crypt: unsupported digest". */
  export type DigestType = "MD5" | "SHA1" | "SHA224" | "SHA256" | "SHA384" | "SHA512";

  export class Digest {
    constructor(type: DigestType);
    /**
     * Adds bytes: any byte buffer or view (wider than the SDK typings' string | ArrayBuffer), or a
     * string (its internal UTF-8 bytes). After close(), write() does NOT throw: it updates a
     * finalised context and gives wrong results. Call reset() before reusing a Digest.
     */
    write(data: string | ByteBuffer): void;
    /** Alias of write(). */
    update(data: string | ByteBuffer): void;
    /**
     * Returns the digest. With `more` truthy the context is saved and restored, so the result is an
     * intermediate digest and hashing can continue. Without it the context is final: reset() next.
     */
    close(more?: boolean): ArrayBuffer;
    /** Starts over. Required before reuse after close(). */
    reset(): void;
    /** reset(), write() every argument, close(). */
    process(...chunks: (string | ByteBuffer)[]): ArrayBuffer;
    readonly blockSize: number;
    readonly outputSize: number;
    // There is no way to export or import the running state: a hash cannot be persisted.
  }

  const crypt: { readonly Digest: typeof Digest };
  export default crypt;
}
