// Where the token sits in an endpoint URL. Only the first few characters go in
// the path and the rest in the query string: Prosody logs request paths at
// debug level (so a whole token would end up in logs), and its path
// pre-processing costs grow with the square of the last segment's length.
// Endpoints with the whole token in the path (issued before, or by the
// reference module) keep working.

/** Characters of the token that go in the path. */
const PATH_CHARACTERS = 8;

/** `<first characters>?<rest>`, each part URL-encoded. */
export function endpointPath(token: string, encode: (this: void, text: string) => string): string {
  if (token.length <= PATH_CHARACTERS) return encode(token);
  return `${encode(string.sub(token, 1, PATH_CHARACTERS))}?${encode(string.sub(token, PATH_CHARACTERS + 1))}`;
}

/** The token of a request: the (already decoded) path part and the raw query. */
export function tokenOf(
  path: string,
  query: string | undefined,
  decode: (this: void, text: string) => string,
): string {
  if (query === undefined) return path;
  // Our tokens never need escaping: skip the decoder's copy of a few hundred
  // bytes on every push (every byte allocated is work for the collector).
  return path + (string.find(query, "%", 1, true)[0] === undefined ? query : decode(query));
}
