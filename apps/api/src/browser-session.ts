import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export const SESSION_COOKIE = "taskq_session";

/**
 * Sessions for the pages a person opens in a browser (the dashboard, the API docs): the key is
 * given once in the URL and exchanged for a cookie (auth.ts) that is signed here (HMAC-SHA256)
 * and expires. The cookie names the key by its id only, so removing a key from API_KEYS ends its
 * sessions too.
 *
 * Value: `<key id>.<expiry, epoch ms>.<signature>`.
 */
export class BrowserSessions {
  private readonly secret: Buffer;

  constructor(
    secret: string | undefined,
    readonly ttlMs: number,
  ) {
    // Without a configured secret, one per process: sessions then hold on this process only.
    this.secret = secret === undefined ? randomBytes(32) : Buffer.from(secret);
  }

  issue(keyId: string, now = Date.now()): string {
    const signed = `${keyId}.${now + this.ttlMs}`;
    return `${signed}.${this.sign(signed)}`;
  }

  /** The key id the session was issued for, or null if the value is forged, altered or expired. */
  verify(value: string, now = Date.now()): string | null {
    const match = /^([\w-]+)\.(\d{1,16})\.([\w-]{43})$/.exec(value);
    if (!match) return null;
    const [, keyId, expiresAt, signature] = match as unknown as [string, string, string, string];
    const expected = Buffer.from(this.sign(`${keyId}.${expiresAt}`));
    if (!timingSafeEqual(expected, Buffer.from(signature))) return null;
    return Number(expiresAt) > now ? keyId : null;
  }

  private sign(text: string): string {
    return createHmac("sha256", this.secret).update(text).digest("base64url");
  }
}
