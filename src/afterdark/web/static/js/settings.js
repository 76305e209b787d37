import { browserTimeZone, del, delWithBody, get, post, put, requireUser, url } from "./api.js";
import { busy, confirmAction, formError, h, showError, timeEl, toast } from "./ui.js";
import { loadWorldBooks } from "./worldbooks.js";

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

// ---------- your time here ----------

const wellbeingForm = document.getElementById("wellbeing-form");
const LIMIT_FIELDS = ["daily_minutes", "daily_messages", "break_minutes"];
let wellbeing = null; // the saved settings, as the API last answered

const dayName = new Intl.DateTimeFormat(undefined, { weekday: "short", timeZone: "UTC" });
const dayLong = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", timeZone: "UTC" });

/** "2026-11-25" as a Date at UTC midnight: formatted in UTC, it stays that calendar day. */
function calendarDay(iso) {
  const [y, m, d] = String(iso).split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d));
}

function setCount(testid, n) {
  const el = document.querySelector(`#time [data-testid="${testid}"]`);
  el.textContent = String(n);
  const unit = el.nextElementSibling;
  if (unit && unit.dataset.unit) unit.textContent = unit.dataset.unit.replace(/s$/, n === 1 ? "" : "s");
}

function usageBar(d, max, isToday) {
  const date = calendarDay(d.day);
  const short = isToday ? "Today" : dayName.format(date);
  const share = max > 0 ? Math.round((d.messages / max) * 100) : 0;
  const spoken = `${isToday ? "Today, " : ""}${dayLong.format(date)}: ${plural(d.messages, "message")}, ${plural(d.minutes, "minute")}`;
  const fill = h("span", { class: "usage-fill" });
  fill.style.height = `${share}%`;
  return h("li", {
    class: `usage-day${isToday ? " is-today" : ""}${d.messages ? "" : " is-empty"}`,
    "data-testid": "usage-day", "data-day": d.day, "data-messages": d.messages, "data-minutes": d.minutes,
    "data-today": isToday ? "true" : null, title: spoken,
  },
  h("span", { class: "visually-hidden" }, spoken),
  h("span", { class: "usage-value", "aria-hidden": "true" }, String(d.messages)),
  h("span", { class: "usage-track", "aria-hidden": "true" }, fill),
  h("span", { class: "usage-label", "aria-hidden": "true" }, short));
}

async function loadUsage() {
  const loading = document.getElementById("usage-loading");
  let report;
  try {
    report = await get("/me/usage");
  } catch (err) {
    loading.textContent = "Could not load your activity.";
    throw err;
  }
  setCount("usage-today-messages", report.today.messages);
  setCount("usage-today-minutes", report.today.minutes);
  setCount("usage-week-messages", report.week.messages);
  setCount("usage-week-minutes", report.week.minutes);
  const max = Math.max(0, ...report.days.map((d) => d.messages));
  const last = report.days.length - 1;
  document.getElementById("usage-chart").replaceChildren(
    ...report.days.map((d, i) => usageBar(d, max, i === last)));
  document.getElementById("usage-timezone").textContent =
    `Days run midnight to midnight in your time zone, ${report.timezone.replace(/_/g, " ")}. Time counts while you're sending messages.`;
  loading.hidden = true;
  document.getElementById("usage").hidden = false;
}

function fillWellbeing(settings) {
  const els = wellbeingForm.elements;
  for (const key of LIMIT_FIELDS) {
    const v = settings[key];
    els.namedItem(key).value = v === null || v === undefined ? "" : String(v);
  }
  els.namedItem("nudges").checked = Boolean(settings.nudges);
  els.namedItem("hard_stop").checked = Boolean(settings.hard_stop);
}

function clearFieldErrors() {
  for (const el of wellbeingForm.querySelectorAll('[aria-invalid="true"]')) el.removeAttribute("aria-invalid");
  formError(wellbeingForm, "");
}

async function loadWellbeing() {
  wellbeing = await get("/me/wellbeing");
  // Days are counted in the saved time zone: keep it the browser's, quietly.
  const here = browserTimeZone();
  if (here && here !== wellbeing.timezone) {
    try {
      wellbeing = await put("/me/wellbeing", { ...wellbeing, timezone: here });
    } catch (err) {
      // A zone the server does not know: keep the saved one.
      if (err.status !== 422) console.warn("could not save the time zone", err);
    }
  }
  fillWellbeing(wellbeing);
  document.getElementById("wellbeing-fields").disabled = false;
}

wellbeingForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearFieldErrors();
  const els = wellbeingForm.elements;
  const body = { ...wellbeing };
  for (const key of LIMIT_FIELDS) {
    const raw = els.namedItem(key).value.trim();
    body[key] = raw === "" ? null : Number.parseInt(raw, 10);
  }
  body.nudges = els.namedItem("nudges").checked;
  body.hard_stop = els.namedItem("hard_stop").checked;
  try {
    wellbeing = await busy(wellbeingForm.querySelector('[type="submit"]'), () => put("/me/wellbeing", body));
    fillWellbeing(wellbeing);
    toast("Your limits are saved.", "ok", 3000);
  } catch (err) {
    const fields = (err.detail && err.detail.fields) || [];
    for (const f of fields) {
      const input = els.namedItem(f.field);
      if (input) input.setAttribute("aria-invalid", "true");
    }
    formError(wellbeingForm, err.message);
    const first = wellbeingForm.querySelector('[aria-invalid="true"]');
    if (first) first.focus();
  }
});

// ---------- age check and content ----------

const ageStart = document.getElementById("age-start");
const explicitToggle = document.getElementById("explicit");
const longDate = new Intl.DateTimeFormat(undefined, { dateStyle: "long" });
const AGE_RESULTS = {
  passed: "Your age check passed. The switch for explicit content is below.",
  failed: "The age check didn't pass, so explicit content stays off. You can try again.",
};
const START_HINTS = {
  signed: "You'll go to the age check service, then come back here.",
  self_declaration: "You confirm that you're an adult. This is only offered on a single-person install.",
};

function showLine(id, message) {
  const el = document.getElementById(id);
  el.textContent = message || "";
  el.hidden = !message;
}

function describeCheck(check) {
  if (check.status === "passed") {
    const details = [check.method ? check.method.replace(/_/g, "-") : "", check.jurisdiction || ""].filter(Boolean);
    const when = check.checked_at ? ` on ${longDate.format(new Date(check.checked_at))}` : "";
    return `Passed${when}${details.length ? ` (${details.join(", ")})` : ""}`;
  }
  if (check.status === "failed") return "Did not pass";
  return "Not checked yet";
}

function showContent(content) {
  const hint = document.getElementById("explicit-hint");
  explicitToggle.checked = Boolean(content.explicit);
  // A plan it comes with (where one is on sale) is only asked for after the age check.
  const planNeeded = content.age_verified && content.plan_needed;
  explicitToggle.disabled = !content.age_verified || planNeeded;
  if (!content.age_verified) {
    hint.textContent = "Available once you pass an age check.";
  } else if (planNeeded) {
    hint.replaceChildren(
      "Explicit content comes with a plan here. ",
      h("a", { href: url("/pricing"), "data-testid": "explicit-plan-link" }, "See the prices"),
      " to choose one, then turn it on.",
    );
  } else {
    hint.textContent = "Lets characters write adult scenes in your chats. You can turn it off any time.";
  }
}

async function loadAge() {
  const loading = document.getElementById("age-loading");
  let check;
  let content;
  try {
    [check, content] = await Promise.all([get("/age"), get("/me/content")]);
  } catch (err) {
    loading.textContent = "Could not load your age check.";
    throw err;
  }
  document.getElementById("age-state").textContent = describeCheck(check);
  document.getElementById("age-none").hidden = check.provider !== "none";
  document.getElementById("age-start-box").hidden = check.verified || check.provider === "none";
  document.getElementById("age-start-hint").textContent = START_HINTS[check.provider] || "";
  showContent(content);
  loading.hidden = true;
  document.getElementById("age-body").hidden = false;
}

/** Back from the age check (?age=passed|failed): say how it went, then tidy the address. */
function ageResultFromUrl() {
  const params = new URLSearchParams(window.location.search);
  const result = params.get("age");
  if (!result) return;
  showLine("age-result", AGE_RESULTS[result] || "");
  params.delete("age");
  const query = params.toString();
  window.history.replaceState(null, "", `${window.location.pathname}${query ? `?${query}` : ""}${window.location.hash}`);
}

ageStart.addEventListener("click", async () => {
  showLine("age-error", "");
  let redirect;
  try {
    ({ redirect_url: redirect } = await busy(ageStart, () => post("/age/start")));
  } catch (err) {
    showLine("age-error", err.message);
    return;
  }
  const target = new URL(redirect, window.location.href);
  const here = new URL(window.location.href);
  window.location.assign(target.href);
  // Self-declaration comes straight back to this page (only the #age differs): no reload, so refresh here.
  if (target.origin === here.origin && target.pathname === here.pathname && target.search === here.search) {
    showLine("age-result", AGE_RESULTS.passed);
    await loadAge().catch(showError);
  }
});

explicitToggle.addEventListener("change", async () => {
  const wanted = explicitToggle.checked;
  showLine("content-error", "");
  document.getElementById("content-status").textContent = "";
  explicitToggle.disabled = true;
  try {
    const content = await put("/me/content", { explicit: wanted });
    showContent(content);
    document.getElementById("content-status").textContent = content.explicit
      ? "Explicit content is on."
      : "Explicit content is off.";
  } catch (err) {
    explicitToggle.checked = !wanted;
    explicitToggle.disabled = false;
    showLine("content-error", err.message);
    if (err.status === 403 || err.status === 402) await loadAge().catch(showError);
  }
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

// ---------- your data: delete the account ----------

const deleteOpen = document.getElementById("delete-open");
const deleteForm = document.getElementById("delete-form");
const deletePassword = deleteForm.elements.namedItem("password");

function showDeleteForm(open) {
  deleteForm.hidden = !open;
  deleteOpen.hidden = open;
  deleteOpen.setAttribute("aria-expanded", open ? "true" : "false");
  deletePassword.value = "";
  deletePassword.removeAttribute("aria-invalid");
  formError(deleteForm, "");
  (open ? deletePassword : deleteOpen).focus();
}

deleteOpen.addEventListener("click", () => showDeleteForm(true));
document.getElementById("delete-cancel").addEventListener("click", () => showDeleteForm(false));

deleteForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  deletePassword.removeAttribute("aria-invalid");
  formError(deleteForm, "");
  const password = deletePassword.value;
  if (!password) {
    deletePassword.setAttribute("aria-invalid", "true");
    formError(deleteForm, "Enter your password to delete the account.");
    deletePassword.focus();
    return;
  }
  try {
    await busy(deleteForm.querySelector('[type="submit"]'), () => delWithBody("/me", { password }));
  } catch (err) {
    if (err.status === 403) deletePassword.setAttribute("aria-invalid", "true");
    formError(deleteForm, err.message);
    deletePassword.focus();
    deletePassword.select();
    return;
  }
  // The account and its session are gone; nothing here works any more.
  window.location.replace(url("/signup"));
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
  ageResultFromUrl();
  await Promise.all([
    loadWellbeing().catch(showError).then(() => loadUsage()).catch(showError),
    loadSessions().catch(showError), loadPersona().catch(showError), loadTokens().catch(showError),
    loadAge().catch(showError), loadWorldBooks().catch(showError),
  ]);
  // Panels above grew while loading: bring a linked panel (such as #age) back into view.
  const linked = window.location.hash ? document.getElementById(window.location.hash.slice(1)) : null;
  if (linked) linked.scrollIntoView({ block: "start" });
})();
