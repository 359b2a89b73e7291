// Who may register (option unified_push_acl): domains and bare JIDs.
import { compare } from "util.jid";

/** True when `from` (a full JID) is covered by one of the ACL entries. */
export function isPermitted(acl: readonly string[], from: string | undefined): boolean {
  if (from === undefined) return false;
  for (const entry of acl) {
    if (compare(from, entry)) return true;
  }
  return false;
}
