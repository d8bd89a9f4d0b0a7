// The REST API as the app uses it: typed shapes, bearer tokens with one refresh on 401,
// and problem+json errors turned into ApiError with the server's own words.

export interface Address {
  name: string;
  address: string;
}

export interface MessageSummary {
  id: number;
  message_id: string | null;
  subject: string;
  from: Address;
  to: Address[];
  cc: Address[];
  date: string | null;
  received_at: string;
  size: number;
  is_read: boolean;
  tags: string[];
  has_attachments: boolean;
  snippet: string;
}

export interface Part {
  index: number;
  filename: string;
  content_type: string;
  size: number;
  content_id: string | null;
  is_inline: boolean;
}

export interface MessageDetail extends MessageSummary {
  text: string;
  html: string;
  headers: { name: string; value: string }[];
  attachments: Part[];
  inline: Part[];
  envelope: { from: string | null; to: string[] };
}

export interface MessagePage {
  items: MessageSummary[];
  next_cursor: string | null;
  total: number;
  total_capped: boolean;
  unread: number;
}

export interface User {
  id: number;
  email: string;
  name: string;
  role: Role;
  is_active: boolean;
  created_at: string;
  last_login_at: string | null;
}

export interface ApiKey {
  id: number;
  user_id: number | null;
  name: string;
  prefix: string;
  role: Role;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  key?: string;
}

export type Role = "viewer" | "developer" | "admin" | "super_admin";
export const ROLES: Role[] = ["viewer", "developer", "admin", "super_admin"];

export interface Me {
  tenant: { id: number; slug: string; name: string };
  role: Role;
  via: "open" | "jwt" | "api_key";
  user: User | null;
  permissions: string[];
  auth_required: boolean;
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const STORAGE_KEY = "postroom.tokens";

let tokens: Tokens | null = readTokens();
let refreshing: Promise<boolean> | null = null;
const listeners = new Set<() => void>();

function readTokens(): Tokens | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as Tokens) : null;
  } catch {
    return null;
  }
}

export function getTokens(): Tokens | null {
  return tokens;
}

export function setTokens(next: Tokens | null): void {
  tokens = next;
  if (next) localStorage.setItem(STORAGE_KEY, JSON.stringify(next));
  else localStorage.removeItem(STORAGE_KEY);
  listeners.forEach((listener) => listener());
}

/** Called when the session ends (refresh refused), so the app can show the login page. */
export function onTokensChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** A URL a browser loads by itself (iframe, download, EventSource): the token rides in the query. */
export function authedUrl(path: string, params: Record<string, string> = {}): string {
  const query = new URLSearchParams(params);
  if (tokens) query.set("token", tokens.access_token);
  const text = query.toString();
  return text ? `${path}${path.includes("?") ? "&" : "?"}${text}` : path;
}

async function problemText(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { detail?: unknown; title?: string };
    if (typeof body.detail === "string") return body.detail;
    if (body.detail) return JSON.stringify(body.detail);
    return body.title ?? response.statusText;
  } catch {
    return response.statusText || `HTTP ${response.status}`;
  }
}

export async function refreshTokens(): Promise<boolean> {
  const current = tokens;
  if (!current) return false;
  refreshing ??= (async () => {
    try {
      const response = await fetch("/api/v1/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: current.refresh_token }),
      });
      if (!response.ok) {
        setTokens(null);
        return false;
      }
      setTokens((await response.json()) as Tokens);
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

export async function request<T>(method: string, path: string, body?: unknown, retry = true): Promise<T> {
  const headers: Record<string, string> = {};
  if (tokens) headers.Authorization = `Bearer ${tokens.access_token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401 && retry && tokens && (await refreshTokens())) {
    return request<T>(method, path, body, false);
  }
  if (!response.ok) throw new ApiError(response.status, await problemText(response));
  if (response.status === 204) return undefined as T;
  const type = response.headers.get("content-type") ?? "";
  return (type.includes("json") ? await response.json() : await response.text()) as T;
}

export const api = {
  login: (email: string, password: string) => request<Tokens>("POST", "/api/v1/auth/login", { email, password }),
  changePassword: (currentPassword: string, newPassword: string) =>
    request<Tokens>("POST", "/api/v1/auth/password", {
      current_password: currentPassword,
      new_password: newPassword,
    }),
  logout: (refresh_token: string) => request<void>("POST", "/api/v1/auth/logout", { refresh_token }),
  me: () => request<Me>("GET", "/api/v1/auth/me"),
  list: (query: string, cursor: string | null, limit = 100) => {
    const params = new URLSearchParams({ limit: String(limit) });
    if (query.trim()) params.set("query", query.trim());
    if (cursor) params.set("cursor", cursor);
    return request<MessagePage>("GET", `/api/v1/messages?${params}`);
  },
  get: (id: number) => request<MessageDetail>("GET", `/api/v1/messages/${id}`),
  raw: (id: number) => request<string>("GET", `/api/v1/messages/${id}/raw`),
  patch: (id: number, patch: { is_read?: boolean; add_tags?: string[]; remove_tags?: string[] }) =>
    request<MessageSummary>("PATCH", `/api/v1/messages/${id}`, patch),
  patchMany: (ids: number[], patch: { is_read?: boolean; add_tags?: string[]; remove_tags?: string[] }) =>
    request<{ updated: number }>("PATCH", "/api/v1/messages", { ids, ...patch }),
  remove: (id: number) => request<void>("DELETE", `/api/v1/messages/${id}`),
  removeMany: (ids: number[]) => request<{ deleted: number }>("DELETE", "/api/v1/messages", { ids }),
  removeMatching: (query: string) =>
    request<{ deleted: number }>(
      "DELETE",
      query.trim() ? `/api/v1/messages?query=${encodeURIComponent(query.trim())}` : "/api/v1/messages",
    ),
  release: (id: number, to: string[]) =>
    request<{ job_id: number; to: string[] }>("POST", `/api/v1/messages/${id}/release`, { to }),
  keys: () => request<{ items: ApiKey[] }>("GET", "/api/v1/api-keys"),
  createKey: (name: string, role: Role) => request<ApiKey>("POST", "/api/v1/api-keys", { name, role }),
  revokeKey: (id: number) => request<void>("DELETE", `/api/v1/api-keys/${id}`),
  users: () => request<{ items: User[] }>("GET", "/api/v1/users"),
  createUser: (user: { email: string; password: string; role: Role; name: string }) =>
    request<User>("POST", "/api/v1/users", user),
  updateUser: (id: number, patch: { role?: Role; is_active?: boolean; name?: string; password?: string }) =>
    request<User>("PATCH", `/api/v1/users/${id}`, patch),
  deleteUser: (id: number) => request<void>("DELETE", `/api/v1/users/${id}`),
};
