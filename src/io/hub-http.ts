/**
 * HTTP for the hub: node's fetch with redirects followed by hand, so that a redirect to another origin (the LFS
 * CDN) never carries the Authorization header, and so that metadata requests can stop at such a redirect (its
 * headers describe the file; the CDN's do not). Hub error responses become TunekitErrors that name the repo, file
 * and revision and say what to do.
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
  /**
   * `same-host`: follow only redirects that stay on the host (a renamed repo) and return one to another host (the
   * LFS CDN) as it is, as huggingface_hub does for metadata: the hub's headers are on that redirect response.
   */
  redirects: 'all' | 'same-host';
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
    const nextUrl = new URL(location, currentUrl);
    if (options.redirects === 'same-host' && nextUrl.hostname !== new URL(currentUrl).hostname) {
      return { response, url: currentUrl };
    }
    await response.body?.cancel();
    if (hop === MAX_REDIRECTS) {
      throw new TunekitError('E_HUB_NETWORK', `${url}: more than ${MAX_REDIRECTS} redirects`);
    }
    currentUrl = nextUrl.href;
  }
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
