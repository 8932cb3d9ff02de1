// The app's "join with a link": what an invite link (http://host:3000/?room=NAME[&secret=S])
// says, or why it is not one. Pure, unit-tested (tests/js/unit-invite-link.test.mjs).

/** Room names and participant ids: what the server accepts. */
export const ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * `text` read as an invite: {server, room, secret}, or {error} saying what an invite looks
 * like, or null for nothing typed yet.
 */
export function parseInvite(text) {
  const trimmed = text.trim();
  if (!trimmed) return null;
  let url;
  try {
    url = new URL(trimmed);
  } catch {
    return { error: "That is not a link: an invite looks like http://host:3000/?room=name" };
  }
  const room = url.searchParams.get("room");
  if (!/^https?:$/.test(url.protocol) || !room || !ID_RE.test(room)) {
    return { error: "That link names no room: an invite looks like http://host:3000/?room=name" };
  }
  return { server: url.origin, room, secret: url.searchParams.get("secret") || "" };
}
