// Thin fetch wrapper: same-origin cookie auth, JSON, errors as ApiError with the server's code and message.
import { locale, t } from './i18n';

export class ApiError extends Error {
  status: number;
  code: string;
  detail: Record<string, any>;
  constructor(status: number, code: string, message: string, detail: Record<string, any> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

type Listener = (e: ApiError) => void;
const authListeners = new Set<Listener>();
/** Called on 401 (session gone) and on 403 password_change_required / totp_enrollment_required. */
export function onAuthProblem(f: Listener) { authListeners.add(f); return () => authListeners.delete(f); }

export async function api<T = any>(method: string, path: string, body?: unknown, opts: { raw?: FormData; quiet?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { 'Accept': 'application/json', 'Accept-Language': locale === 'en' ? 'en' : 'zh-CN' };
  let payload: BodyInit | undefined;
  if (opts.raw) payload = opts.raw;
  else if (body !== undefined) { headers['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
  let res: Response;
  try {
    res = await fetch('/api/v1' + path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network_error', t('error_network'));
  }
  if (res.status === 204) return undefined as T;
  let data: any = null;
  const text = await res.text();
  if (text) { try { data = JSON.parse(text); } catch { data = null; } }
  if (!res.ok) {
    const err = data && data.error ? data.error : {};
    const code = typeof err.code === 'string' ? err.code : (res.status >= 500 ? 'server_error' : 'http_' + res.status);
    const message = typeof err.message === 'string' && err.message ? err.message : (t('error_' + code) !== 'error_' + code ? t('error_' + code) : t('error_generic'));
    const e = new ApiError(res.status, code, message, err);
    if (!opts.quiet && (res.status === 401 && code !== 'invalid_credentials' && code !== 'otp_required' && !path.startsWith('/auth/login') && !path.startsWith('/auth/unlock')
      || code === 'password_change_required' || code === 'totp_enrollment_required' || code === 'session_locked' || code === 'rules_acceptance_required')) {
      authListeners.forEach((f) => f(e));
    }
    throw e;
  }
  return data as T;
}

export const get = <T = any>(p: string) => api<T>('GET', p);
export const post = <T = any>(p: string, b?: unknown) => api<T>('POST', p, b ?? {});
export const patch = <T = any>(p: string, b?: unknown) => api<T>('PATCH', p, b ?? {});
export const del = <T = any>(p: string) => api<T>('DELETE', p);

/** RFC 4122 v4 id; crypto.randomUUID is missing on plain-http intranet hosts, getRandomValues is not. */
export function uuid(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
