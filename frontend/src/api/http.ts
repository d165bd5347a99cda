// The REST client: same-origin `/api`, JSON in and out, errors parsed into ApiError. Authenticated calls get a
// fresh access token from a TokenSource and retry once after a 401 `token_expired` (the source refreshes with a
// single in-flight request shared by every caller).
import type { ErrorBody, ErrorCode } from './types';

export const API_BASE = '/api';

const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'invalid_input',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  410: 'gone',
  413: 'payload_too_large',
  429: 'rate_limited',
  500: 'internal',
  502: 'unavailable',
  503: 'unavailable',
  504: 'unavailable',
};

export class ApiError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly field?: string;
  /** From `Retry-After` (429) or an ack's `retryAfterMs`. */
  readonly retryAfterMs?: number;

  constructor(status: number, code: ErrorCode, message: string, field?: string, retryAfterMs?: number) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfterMs = retryAfterMs;
  }

  /** Whether the same request may succeed later unchanged. */
  get retryable(): boolean {
    return ['rate_limited', 'unavailable', 'internal', 'network', 'timeout'].includes(this.code);
  }
}

export function isApiError(e: unknown, code?: ErrorCode): e is ApiError {
  return e instanceof ApiError && (code === undefined || e.code === code);
}

/** A human-readable message for any thrown value. */
export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.code === 'network') return 'Could not reach the server. Check your connection.';
    return e.message || e.code;
  }
  if (e instanceof Error) return e.message;
  return String(e);
}

function parseRetryAfter(res: Response): number | undefined {
  const h = res.headers.get('Retry-After');
  if (!h) return undefined;
  const secs = Number(h);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(h);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Turns a non-2xx response into an ApiError, reading the `{error:{code,message,field}}` body when present. */
export async function toApiError(res: Response): Promise<ApiError> {
  let body: Partial<ErrorBody> | null = null;
  try {
    const text = await res.text();
    body = text ? (JSON.parse(text) as Partial<ErrorBody>) : null;
  } catch {
    body = null;
  }
  const err = body && typeof body === 'object' ? body.error : undefined;
  const code: ErrorCode =
    err && typeof err.code === 'string' ? err.code : (STATUS_CODES[res.status] ?? (res.status >= 500 ? 'internal' : 'invalid_input'));
  const message = err && typeof err.message === 'string' && err.message ? err.message : res.statusText || `HTTP ${res.status}`;
  const field = err && typeof err.field === 'string' ? err.field : undefined;
  return new ApiError(res.status, code, message, field, parseRetryAfter(res));
}

export interface RawRequest {
  method?: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  body?: unknown;
  token?: string | null;
  signal?: AbortSignal;
  fetchImpl?: typeof fetch;
}

/** One request, no token handling: used directly for the auth endpoints. */
export async function rawRequest<T>(path: string, { method = 'GET', body, token, signal, fetchImpl }: RawRequest = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const f = fetchImpl ?? globalThis.fetch.bind(globalThis);
  let res: Response;
  try {
    res = await f(API_BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: 'same-origin',
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', e instanceof Error ? e.message : 'network error');
  }
  if (!res.ok) throw await toApiError(res);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Where authenticated requests get their token (implemented by AuthManager). */
export interface TokenSource {
  /** A usable access token (refreshed first when about to expire), or null when logged out. */
  getAccessToken(): Promise<string | null>;
  /** Refresh after `failedToken` was rejected as expired; resolves to the new access token. */
  refresh(failedToken: string): Promise<string>;
  /** The server rejected the session outright. */
  onUnauthorized(error: ApiError): void;
}

export interface HttpClient {
  get<T>(path: string, opts?: { signal?: AbortSignal }): Promise<T>;
  post<T>(path: string, body?: unknown): Promise<T>;
  patch<T>(path: string, body?: unknown): Promise<T>;
  del<T = void>(path: string): Promise<T>;
  request<T>(path: string, init?: Omit<RawRequest, 'token' | 'fetchImpl'>): Promise<T>;
}

export function createHttpClient(tokens: TokenSource, fetchImpl?: typeof fetch): HttpClient {
  async function request<T>(path: string, init: Omit<RawRequest, 'token' | 'fetchImpl'> = {}): Promise<T> {
    const token = await tokens.getAccessToken();
    if (!token) throw new ApiError(401, 'unauthorized', 'You are not logged in.');
    try {
      return await rawRequest<T>(path, { ...init, token, fetchImpl });
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401) throw e;
      if (e.code === 'token_expired') {
        const fresh = await tokens.refresh(token);
        try {
          return await rawRequest<T>(path, { ...init, token: fresh, fetchImpl });
        } catch (e2) {
          if (e2 instanceof ApiError && e2.status === 401) tokens.onUnauthorized(e2);
          throw e2;
        }
      }
      tokens.onUnauthorized(e);
      throw e;
    }
  }
  return {
    request,
    get: (path, opts) => request(path, { signal: opts?.signal }),
    post: (path, body) => request(path, { method: 'POST', body: body ?? {} }),
    patch: (path, body) => request(path, { method: 'PATCH', body: body ?? {} }),
    del: (path) => request(path, { method: 'DELETE' }),
  };
}
