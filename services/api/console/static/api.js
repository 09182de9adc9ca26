// The only way the console talks to the server: fetch with the bearer key from sessionStorage.
// sessionStorage (not localStorage) so the key dies with the tab, as a SOC workstation policy wants.

const KEY = "secchain.apiKey";

export class ApiError extends Error {
  constructor(status, body) {
    const err = body?.error ?? {};
    super(err.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = err.code ?? "http_error";
    this.parameter = err.parameter ?? null;
  }
}

export const auth = {
  get key() { return sessionStorage.getItem(KEY); },
  set(key) { sessionStorage.setItem(KEY, key); },
  clear() { sessionStorage.removeItem(KEY); },
};

/** Drop empty values so the URL and the API see only the filters actually set. */
export function cleanParams(params) {
  const out = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && String(value).trim() !== "") out.set(name, String(value).trim());
  }
  return out;
}

export async function request(path, { params, method = "GET", body, raw = false, key = auth.key } = {}) {
  const query = params ? cleanParams(params).toString() : "";
  const headers = { Accept: raw ? "*/*" : "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(query ? `${path}?${query}` : path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store",
  });
  if (!response.ok) {
    let payload = null;
    try { payload = await response.json(); } catch { /* not JSON: keep the status */ }
    const error = new ApiError(response.status, payload);
    // The stored key stopped working (revoked, tenancy reloaded): back to sign-in. A key being
    // tried at sign-in is not stored yet and reports its own error.
    if (response.status === 401 && key && key === auth.key) {
      window.dispatchEvent(new CustomEvent("secchain:unauthenticated"));
    }
    throw error;
  }
  return raw ? response : response.json();
}

export const api = {
  me: (key) => request("/v1/me", { key }),
  alerts: (params) => request("/v1/alerts", { params }),
  stats: (params) => request("/v1/alerts/stats", { params }),
  groups: (params) => request("/v1/alerts/groups", { params }),
  alert: (id, params) => request(`/v1/alerts/${encodeURIComponent(id)}`, { params }),
  triage: (id, status, comment, params) =>
    request(`/v1/alerts/${encodeURIComponent(id)}/triage`, { method: "POST", params, body: { status, comment } }),
  export: (params) => request("/v1/alerts/export", { params, raw: true }),
};
