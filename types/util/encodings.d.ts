/** @noSelfInFile */

/**
 * util.encodings (C library): base64, UTF-8, stringprep, IDNA.
 */
/** @noResolution */
declare module "util.encodings" {
  export namespace base64 {
    export function encode(data: string): string;
    /**
     * Decodes standard base64. Not a validator: it skips or truncates what it
     * cannot decode (`"YWJ"` gives `""`, `"YW=Jj"` gives `"a"`), and gives
     * `undefined` for some input. To validate, re-encode and compare.
     */
    export function decode(data: string): string | undefined;
  }
  export namespace utf8 {
    export function valid(text: string): boolean;
    /** Number of code points, or `undefined` for invalid UTF-8. */
    export function length(text: string): number | undefined;
  }
  /** Each returns the prepared string, or `undefined` if it is not allowed. */
  export namespace stringprep {
    export function nodeprep(text: string, strict?: boolean): string | undefined;
    export function nameprep(text: string, strict?: boolean): string | undefined;
    export function resourceprep(text: string, strict?: boolean): string | undefined;
    export function saslprep(text: string, strict?: boolean): string | undefined;
  }
  export namespace idna {
    export function to_ascii(domain: string): string | undefined;
    export function to_unicode(domain: string): string | undefined;
  }
  export namespace confusable {
    export function skeleton(text: string): string | undefined;
  }
  export const version: string;
}
