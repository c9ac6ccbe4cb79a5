import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Checks an Authorization header against the API key in constant time: both sides are hashed first, so neither
 * their contents nor their lengths change how long the comparison takes.
 */
export function bearerMatches(header: string | undefined, apiKey: string): boolean {
  const presented = header !== undefined && /^Bearer /i.test(header) ? header.slice('Bearer '.length).trim() : '';
  const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(apiKey)) && presented.length > 0;
}
