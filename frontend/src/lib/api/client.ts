// The one HTTP client of the app. Same origin in production (the backend serves the app); in
// development (`make ui-dev`, http://localhost:3000) the backend on :8000, cross-origin through CORS.
export const API_ROOT: string =
  import.meta.env.VITE_API_ROOT ?? (import.meta.env.DEV ? "http://localhost:8000" : "");
export const API_BASE = `${API_ROOT}/api`;

/** An error reply of the API: `detail` is the server's message, shown to the user verbatim. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(detail);
    this.name = "ApiError";
  }
}

export type QueryValue = string | number | boolean | null | undefined | readonly (string | number)[];
export type Query = Record<string, QueryValue>;

export function queryString(query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) for (const v of value) params.append(key, String(v));
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

async function request<T>(method: string, path: string, init: { query?: Query; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${API_BASE}${path}${queryString(init.query)}`, {
      method,
      signal: init.signal,
      headers: init.body === undefined ? { Accept: "application/json" } : { Accept: "application/json", "Content-Type": "application/json" },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    throw new ApiError(0, `cannot reach the DataVisor server (${(error as Error).message})`);
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const detail = (body as { detail?: unknown } | undefined)?.detail;
    throw new ApiError(response.status, typeof detail === "string" ? detail : `${response.status} ${response.statusText}: ${text.slice(0, 300)}`);
  }
  return body as T;
}

export const api = {
  get: <T>(path: string, query?: Query, signal?: AbortSignal) => request<T>("GET", path, { query, signal }),
  post: <T>(path: string, body: unknown, query?: Query) => request<T>("POST", path, { body, query }),
  delete: <T = void>(path: string, query?: Query) => request<T>("DELETE", path, { query }),
  put: <T>(path: string, body: unknown) => request<T>("PUT", path, { body }),
  patch: <T>(path: string, body: unknown) => request<T>("PATCH", path, { body }),
};

export function imageUrl(sampleId: number, size: "small" | "medium" | "large" | "original"): string {
  return `${API_BASE}/images/${sampleId}?size=${size}`;
}

export function eventsUrl(jobId: string): string {
  return `${API_BASE}/jobs/${encodeURIComponent(jobId)}/events`;
}
