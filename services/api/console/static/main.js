// Boot and routing. The hash (#/alerts?..., #/overview?..., #/groups?..., #/alert/<id>) is the
// whole state; every change of it re-renders the one view it names.
import { ApiError, api, auth } from "./api.js";
import { h } from "./dom.js";
import { current } from "./state.js";
import * as detail from "./views/detail.js";
import * as groups from "./views/groups.js";
import * as list from "./views/list.js";
import * as overview from "./views/overview.js";
import * as signin from "./views/signin.js";

const VIEWS = { alerts: list, overview, groups, alert: detail };
const root = document.getElementById("app");
let me = null;

function showIdentity() {
  document.getElementById("nav").hidden = !me;
  document.getElementById("who").hidden = !me;
  if (me) {
    document.getElementById("who-name").textContent =
      `${me.key} · ${me.role}${me.tenant ? ` · tenant ${me.tenant}` : " · all tenants"}`;
  }
}

function signOut(reason) {
  auth.clear();
  me = null;
  showIdentity();
  signin.render(root, { reason, onSignedIn: (who) => { me = who; showIdentity(); route(); } });
}

function viewOf(state) {
  return VIEWS[state.view] ?? list;
}

async function route(prefetched = null) {
  if (!me) return;
  const state = current();
  const view = viewOf(state);
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.dataset.view === state.view);
  }
  document.body.dataset.view = state.view;
  // Each render gets its own container: a slow answer for a view the analyst already left lands
  // in a detached element and never overwrites the view now shown.
  const target = h("div", { class: "view" });
  root.replaceChildren(target);
  try {
    await view.render(target, { ...state, me }, prefetched);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    target.querySelector(".loading")?.remove();
    target.append(h("p", { class: "error", role: "alert", id: "view-error" }, error.message,
      error.parameter ? ` (parameter ${error.parameter})` : ""));
  }
}

async function boot() {
  document.getElementById("sign-out").addEventListener("click", () => signOut());
  window.addEventListener("secchain:unauthenticated", () => signOut("Your key is no longer accepted; sign in again."));
  window.addEventListener("hashchange", () => route());
  let prefetched = null;
  if (auth.key) {
    // The first view's data does not depend on who signed in: ask for it together with /v1/me
    // instead of one round trip after the other. If the key is refused both fail and the
    // prefetch is dropped.
    const view = viewOf(current());
    prefetched = view.load ? view.load(current()) : null;
    prefetched?.catch(() => {});
    try {
      me = await api.me();
    } catch {
      auth.clear();
    }
  }
  showIdentity();
  if (me) route(prefetched); else signOut();
}

boot();

