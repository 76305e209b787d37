import { del, get, post, put, requireUser, url } from "./api.js";
import { busy, confirmAction, h, showError, timeEl, toast } from "./ui.js";

const personaForm = document.getElementById("persona-form");
const tokenForm = document.getElementById("token-form");
const tokenList = document.getElementById("token-list");
const reveal = document.getElementById("token-reveal");

function tokenRow(t) {
  const item = h("li", { class: "token-item", "data-testid": "token-item", "data-token-id": t.id },
    h("span", { class: "token-body" },
      h("span", { class: "token-name" }, t.name),
      h("span", { class: "muted token-meta" },
        "Created ", timeEl(t.created_at),
        t.last_used_at ? [" · last used ", timeEl(t.last_used_at)] : null)));
  item.append(h("button", {
    type: "button", class: "icon-btn", icon: "trash", "aria-label": `Delete token ${t.name}`,
    "data-testid": "token-delete",
    onclick: async () => {
      if (!(await confirmAction(`Delete the token "${t.name}"? Clients using it will stop working.`))) return;
      try {
        await del(`/tokens/${t.id}`);
        item.remove();
        document.getElementById("tokens-empty").hidden = tokenList.children.length > 0;
      } catch (err) {
        showError(err);
      }
    },
  }));
  return item;
}

async function loadTokens() {
  const tokens = await get("/tokens");
  tokenList.replaceChildren(...tokens.map(tokenRow));
  document.getElementById("tokens-empty").hidden = tokens.length > 0;
}

// ---------- where you're logged in ----------

const sessionList = document.getElementById("session-list");
const sessionActions = document.getElementById("session-actions");

const BROWSERS = [
  [/\bEdg(?:e|A|iOS)?\//, "Edge"],
  [/\bOPR\/|\bOpera\b/, "Opera"],
  [/\bSamsungBrowser\//, "Samsung Internet"],
  [/\bVivaldi\//, "Vivaldi"],
  [/\bYaBrowser\//, "Yandex Browser"],
  [/\bFirefox\/|\bFxiOS\//, "Firefox"],
  [/\bChromium\//, "Chromium"],
  [/\bHeadlessChrome\//, "Headless Chrome"],
  [/\bChrome\/|\bCriOS\//, "Chrome"],
  [/\bVersion\/[\d.]+.*\bSafari\//, "Safari"],
  [/\bMSIE |\bTrident\//, "Internet Explorer"],
];
// Order matters: Android says Linux, iPhones and iPads say "like Mac OS X".
const SYSTEMS = [
  [/\b(?:iPhone|iPod)\b/, "iOS"],
  [/\biPad\b/, "iPadOS"],
  [/\bAndroid\b/, "Android"],
  [/\bCrOS\b/, "ChromeOS"],
  [/\bWindows\b/, "Windows"],
  [/\bMac OS X\b|\bMacintosh\b/, "macOS"],
  [/\bLinux\b|\bX11\b/, "Linux"],
];

function firstMatch(table, text) {
  const hit = table.find(([pattern]) => pattern.test(text));
  return hit ? hit[1] : null;
}

/** "Firefox on Windows" from a User-Agent header; the header itself when it is no browser's. */
function describeDevice(userAgent) {
  const raw = String(userAgent || "").trim();
  if (!raw) return "Unknown device";
  const browser = firstMatch(BROWSERS, raw);
  const system = firstMatch(SYSTEMS, raw);
  if (browser && system) return `${browser} on ${system}`;
  if (browser) return browser;
  return raw.length > 60 ? `${raw.slice(0, 59)}…` : raw;
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function sessionRow(s) {
  const device = describeDevice(s.user_agent);
  const item = h("li", {
    class: "token-item session-item", "data-testid": "session-item", "data-session-id": s.id,
    "data-current": s.current ? "true" : "false",
  },
  h("span", { class: "token-body" },
    h("span", { class: "token-name session-device" },
      h("span", { "data-testid": "session-device", title: s.user_agent || null }, device),
      s.current ? h("span", { class: "badge badge-current", "data-testid": "session-current" }, "This device") : null),
    h("span", { class: "muted token-meta" }, "Signed in ", timeEl(s.created_at))));
  if (!s.current) {
    item.append(h("button", {
      type: "button", class: "btn btn-small btn-quiet-danger", "aria-label": `Log out ${device}`,
      "data-testid": "session-revoke",
      onclick: async (event) => {
        try {
          await busy(event.currentTarget, () => del(`/sessions/${s.id}`));
          toast(`Logged out ${device}.`, "ok", 3000);
        } catch (err) {
          // 404: it had already ended (logged out there, or expired); the reload shows that.
          if (err.status !== 404) {
            showError(err);
            return;
          }
        }
        await loadSessions().catch(showError);
      },
    }, "Log out"));
  }
  return item;
}

async function loadSessions() {
  const loading = document.getElementById("sessions-loading");
  let sessions;
  try {
    sessions = await get("/sessions");
  } catch (err) {
    loading.textContent = "Could not load your sessions.";
    throw err;
  }
  // This device first, then the rest newest first (the API's order).
  const ordered = [...sessions.filter((s) => s.current), ...sessions.filter((s) => !s.current)];
  sessionList.replaceChildren(...ordered.map(sessionRow));
  loading.hidden = true;
  sessionActions.hidden = !sessions.some((s) => !s.current);
}

document.getElementById("revoke-others").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  const others = sessionList.querySelectorAll('[data-current="false"]').length;
  const text = `Log out of ${plural(others, "other session")}? You stay logged in on this device.`;
  if (!(await confirmAction(text, "Log out"))) return;
  try {
    const { ended } = await busy(button, () => post("/sessions/revoke-others"));
    toast(ended ? `Logged out ${plural(ended, "other session")}.` : "No other sessions to log out.", "ok", 4000);
  } catch (err) {
    showError(err);
  }
  await loadSessions().catch(showError);
});

async function loadPersona() {
  const persona = await get("/me/persona");
  personaForm.elements.namedItem("name").value = persona.name || "";
  personaForm.elements.namedItem("description").value = persona.description || "";
  // Editable only once loaded, so an early edit is not overwritten.
  document.getElementById("persona-fields").disabled = false;
}

personaForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(personaForm);
  const body = { name: String(data.get("name") || "").trim(), description: String(data.get("description") || "") };
  try {
    await busy(personaForm.querySelector('[type="submit"]'), () => put("/me/persona", body));
    toast("Persona saved.", "ok", 3000);
  } catch (err) {
    showError(err);
  }
});

tokenForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = tokenForm.elements.namedItem("name");
  const name = input.value.trim();
  if (!name) return;
  try {
    const created = await busy(tokenForm.querySelector('[type="submit"]'), () => post("/tokens", { name }));
    input.value = "";
    document.getElementById("token-value").textContent = created.token || "";
    reveal.hidden = !created.token;
    tokenList.prepend(tokenRow(created));
    document.getElementById("tokens-empty").hidden = true;
  } catch (err) {
    showError(err);
  }
});

document.getElementById("logout").addEventListener("click", async (event) => {
  try {
    await busy(event.currentTarget, () => post("/auth/logout", undefined, { auth: false }));
  } catch (err) {
    if (err.status !== 401) {
      showError(err);
      return;
    }
  }
  window.location.assign(url("/login"));
});

(async () => {
  const me = await requireUser();
  document.getElementById("account-email").textContent = me.email;
  await Promise.all([
    loadSessions().catch(showError), loadPersona().catch(showError), loadTokens().catch(showError),
  ]);
})();
