// Sign-in with an API key. The key is checked against /v1/me before it is kept, so a typo is
// reported here rather than as an empty alert list.
import { ApiError, api, auth } from "../api.js";
import { clear, h } from "../dom.js";

export function render(root, { onSignedIn, reason }) {
  const key = h("input", { name: "api_key", type: "password", autocomplete: "off", required: true,
    placeholder: "sk_…", id: "api-key" });
  const message = h("div", { class: "error", role: "alert" }, reason ?? "");
  const form = h("form", { class: "signin", onsubmit: async (event) => {
    event.preventDefault();
    message.textContent = "";
    try {
      const me = await api.me(key.value.trim());
      auth.set(key.value.trim());
      onSignedIn(me);
    } catch (error) {
      message.textContent = error instanceof ApiError && error.status === 401
        ? "This API key is not valid." : `Sign-in failed: ${error.message}`;
    }
  } },
  h("h1", {}, "Sign in"),
  h("p", { class: "muted" }, "Use your API key. It is kept for this browser tab only."),
  h("label", { for: "api-key" }, "API key"), key, message,
  h("button", { type: "submit", class: "primary" }, "Sign in"));
  clear(root).append(form);
  key.focus();
}
