/**
 * HTTP for the hub: node's fetch with redirects followed by hand, and bodies read under an idle timeout. The rules
 * a server (hostile or not) cannot bend:
 *
 * - The Authorization header goes only to the endpoint's origin (scheme, host and port). Once a redirect leaves it
 *   (the LFS CDN, or anything else), the header is dropped for the rest of the chain, as huggingface_hub does.
 * - Metadata requests (`same-origin`) follow only redirects within the origin (a renamed repo) and return one to
 *   another origin as it is: the hub's headers describing the file are on that redirect response.
 * - Redirects go to http(s) only, never from https down to http, and at most MAX_REDIRECTS of them.
 * - Response headers must arrive within `timeoutMs`; after that each body chunk within `idleTimeoutMs`.
 *
 * Hub error responses become TunekitErrors that name the repo, file and revision and say what to do.
 */
import { TunekitError } from '../errors.js';

const MAX_REDIRECTS = 10;

export interface HubTarget {
  repoId: string;
  revision: string;
  filename?: string;
  /** Where the repo's page is, for messages: `{endpoint}/{repoId}` (or `/datasets/…`). */
  repoUrl: string;
}

export interface HubRequestOptions {
  method: 'GET' | 'HEAD';
  headers: Record<string, string>;
  /** `same-origin`: follow only redirects within the origin; `all`: any http(s) redirect (for downloads). */
  redirects: 'all' | 'same-origin';
  /** Time allowed until the response headers arrive. */
  timeoutMs: number;
  /** The origin the Authorization header is meant for; default the first URL's. */
  origin?: string;
}

export interface HubResponse {
  response: Response;
  /** The URL that gave `response`, after the redirects followed. */
  url: string;
}

function withoutAuthorization(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'authorization'));
}

/** The URL a `Location` header points at, refused unless it is http(s) and no downgrade from https. */
export function redirectTarget(location: string, fromUrl: string): URL {
  let target: URL | undefined;
  try {
    target = new URL(location, fromUrl);
  } catch {
    target = undefined;
  }
  const from = new URL(fromUrl);
  if (target === undefined || !['http:', 'https:'].includes(target.protocol) || (from.protocol === 'https:' && target.protocol === 'http:')) {
    throw new TunekitError(
      'E_HUB_BAD_RESPONSE',
      `${fromUrl}: refused the redirect to ${JSON.stringify(location)} (Location header): only http(s) redirects are followed, never from https to http`,
    );
  }
  return target;
}

async function fetchOnce(url: string, options: HubRequestOptions, headers: Record<string, string>): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs);
  try {
    return await fetch(url, { method: options.method, headers, redirect: 'manual', signal: controller.signal });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = controller.signal.aborted
      ? `no response within ${options.timeoutMs / 1000} s`
      : cause?.code ?? cause?.message ?? (error as Error).message;
    throw new TunekitError('E_HUB_NETWORK', `could not reach ${url} (${reason}); check the network or set HF_HUB_OFFLINE=1 to use the cache only`);
  } finally {
    // the signal is only for the headers: aborting later would also cut the body, which has its own idle timeout
    clearTimeout(timer);
  }
}

/** One request with redirects followed as `options.redirects` says; Authorization is dropped on leaving the origin. */
export async function hubRequest(url: string, options: HubRequestOptions): Promise<HubResponse> {
  const origin = options.origin ?? new URL(url).origin;
  let currentUrl = url;
  let headers = options.headers;
  for (let hop = 0; ; hop++) {
    if (new URL(currentUrl).origin !== origin) headers = withoutAuthorization(headers);
    const response = await fetchOnce(currentUrl, options, headers);
    const location = response.headers.get('location');
    if (response.status < 300 || response.status > 399 || location === null) return { response, url: currentUrl };
    const nextUrl = redirectTarget(location, currentUrl);
    if (options.redirects === 'same-origin' && nextUrl.origin !== new URL(currentUrl).origin) {
      return { response, url: currentUrl };
    }
    await response.body?.cancel().catch(() => undefined);
    if (hop === MAX_REDIRECTS) {
      throw new TunekitError('E_HUB_NETWORK', `${url}: more than ${MAX_REDIRECTS} redirects`);
    }
    currentUrl = nextUrl.href;
  }
}

/**
 * The chunks of a response body, each of which must arrive within `idleTimeoutMs` of the one before; else an
 * E_HUB_NETWORK error that says `what` stalled. Stopping early (an error, a `break`) releases the connection.
 */
export async function* bodyChunks(response: Response, idleTimeoutMs: number, what: string): AsyncGenerator<Uint8Array> {
  if (response.body === null) return;
  const reader = response.body.getReader();
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new TunekitError('E_HUB_NETWORK', `${what}: no data for ${idleTimeoutMs / 1000} s (idleTimeoutMs), the server stalled`)),
          idleTimeoutMs,
        );
      });
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await Promise.race([reader.read(), idle]);
      } finally {
        clearTimeout(timer);
      }
      if (chunk.done) return;
      yield chunk.value;
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
}

/** A whole small body (JSON from the API), bounded in size and in idle time. */
export async function readSmallBody(response: Response, url: string, idleTimeoutMs: number, maxBytes: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of bodyChunks(response, idleTimeoutMs, url)) {
    size += chunk.byteLength;
    if (size > maxBytes) throw new TunekitError('E_HUB_BAD_RESPONSE', `${url}: the response is larger than ${maxBytes} bytes; refused`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Throws the hub's error for a failed response, read from its status and `X-Error-Code` header. */
export async function raiseForStatus(hubResponse: HubResponse, target: HubTarget, tokenSent: boolean): Promise<void> {
  const { response, url } = hubResponse;
  if (response.ok || (response.status >= 300 && response.status <= 399)) return;
  await response.body?.cancel().catch(() => undefined);
  const errorCode = response.headers.get('x-error-code');
  const serverMessage = response.headers.get('x-error-message');
  const detail = serverMessage ? ` The hub says: "${serverMessage}".` : '';
  const repo = `hub repo "${target.repoId}"`;
  const tokenAdvice = tokenSent
    ? 'The token sent was refused: check that HF_TOKEN (or $HF_HOME/token) holds a valid token with read access.'
    : 'If it is private or gated, set HF_TOKEN to an access token (https://huggingface.co/settings/tokens).';

  if (response.status === 401) {
    throw new TunekitError(
      'E_HUB_UNAUTHORIZED',
      `${repo}: not authorized (HTTP 401 for ${url}); the repo is private, gated or does not exist. ${tokenAdvice}${detail}`,
    );
  }
  if (response.status === 403 && errorCode === 'GatedRepo') {
    throw new TunekitError(
      'E_HUB_GATED',
      `${repo} is gated: accept its terms on ${target.repoUrl} while logged in, then set HF_TOKEN to an access ` +
        `token of that account (HTTP 403 for ${url}).${detail}`,
    );
  }
  if (response.status === 403) {
    throw new TunekitError('E_HUB_FORBIDDEN', `${repo}: access refused (HTTP 403 for ${url}). ${tokenAdvice}${detail}`);
  }
  if (errorCode === 'RepoNotFound') {
    throw new TunekitError(
      'E_HUB_REPO_NOT_FOUND',
      `${repo} not found (HTTP ${response.status} for ${url}); check the spelling. ${tokenAdvice}${detail}`,
    );
  }
  if (errorCode === 'RevisionNotFound') {
    throw new TunekitError(
      'E_HUB_REVISION_NOT_FOUND',
      `${repo} has no revision "${target.revision}" (no such branch, tag or commit; HTTP ${response.status} for ${url}).${detail}`,
    );
  }
  if (errorCode === 'EntryNotFound' || (response.status === 404 && target.filename !== undefined)) {
    throw new TunekitError(
      'E_HUB_ENTRY_NOT_FOUND',
      `${repo} has no file "${target.filename ?? ''}" at revision "${target.revision}" (HTTP ${response.status} for ${url}).${detail}`,
    );
  }
  throw new TunekitError('E_HUB_HTTP', `${repo}: HTTP ${response.status} ${response.statusText} for ${url}.${detail}`);
}
