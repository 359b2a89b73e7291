/** @noSelfInFile */

/**
 * util.http: URL and form encoding helpers.
 * @see https://prosody.im/doc/developers/http
 */
/** @noResolution */
declare module "util.http" {
  /** Percent-encodes everything but `A-Z a-z 0-9 . ~ _ -`. */
  export function urlencode(text: string): string;
  export function urlencode(text: string | undefined): string | undefined;
  export function urldecode(text: string): string;
  export function urldecode(text: string | undefined): string | undefined;
  /** `application/x-www-form-urlencoded` from a map, or from ordered name/value pairs. */
  export function formencode(
    form:
      | { readonly [name: string]: string }
      | readonly { readonly name: string; readonly value: string }[],
  ): string;
  /**
   * Decodes a form. Without any `=` the whole input is URL-decoded and returned
   * as a string; otherwise a table mapping names to values (it also holds the
   * ordered `{ name, value }` pairs in its array part).
   */
  export function formdecode(
    text: string,
  ): string | { readonly [name: string]: string | undefined };
  /** Whether a comma-separated header value contains `token` (case-insensitive). */
  export function contains_token(field: string, token: string): boolean;
  /** Adds a leading `/`, and a trailing one for directories (removes it otherwise). */
  export function normalize_path(path: string, is_dir?: boolean): string;
  /** Prosody 13 only: parses an RFC 7239 `Forwarded` header (`false` when it misparses). */
  export const parse_forwarded:
    | ((
        this: void,
        header: string | undefined,
      ) => { readonly [key: string]: string }[] | false | undefined)
    | undefined;
}
