import { get, post, requireUser } from "./api.js";
import { sparksButton } from "./admin-sparks.js";
import { busy, h, showError, timeEl, toast } from "./ui.js";

// The admin page: every account (with password reset links to hand out, since there is no
// mailer) and the moderation log (which rule stopped what; never the text itself).

const loading = document.getElementById("admin-loading");
const denied = document.getElementById("admin-denied");
const body = document.getElementById("admin-body");
const accountList = document.getElementById("account-list");
const moderationRows = document.getElementById("moderation-rows");
const moderationTable = document.getElementById("moderation-table");

const LIMITS = { minors: "Minors", real_people: "Real people" };
const ACTIONS = { refused: "Refused", withheld: "Withheld" };
const SOURCES = { prompt: "A message sent", output: "A model reply", character: "A character" };

const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

/** An ISO time with its zone: a stored time without one is the UTC it was saved in. */
function zoned(iso) {
  const text = String(iso || "");
  return /(?:Z|[+-]\d\d:?\d\d)$/i.test(text) || !text ? text : `${text}Z`;
}

function showDenied() {
  loading.hidden = true;
  body.hidden = true;
  denied.hidden = false;
}

/** Whether an API failure means "not an admin" (and the page now says so). */
function deniedBy(err) {
  if (err && err.status === 403) {
    showDenied();
    return true;
  }
  return false;
}

// ---------- accounts ----------

/** Put `text` on the clipboard; true when it got there. */
async function copyText(input) {
  input.focus();
  input.select();
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(input.value);
      return true;
    }
  } catch {
    // refused (no permission, page not focused): try the older way below
  }
  try {
    return document.execCommand("copy");
  } catch {
    return false;
  }
}

function resetReveal(user, link) {
  const inputId = `reset-url-${user.id}`;
  const hintId = `reset-hint-${user.id}`;
  const input = h("input", {
    type: "text", id: inputId, class: "reset-url", readonly: true, value: link.url,
    spellcheck: "false", autocomplete: "off", "aria-describedby": hintId, "data-testid": "reset-url",
    onfocus: (event) => event.currentTarget.select(),
  });
  const until = clock.format(new Date(zoned(link.expires_at)));
  return h("div", { class: "token-reveal reset-reveal", role: "group", "aria-label": `Reset link for ${user.email}`, "data-testid": "reset-reveal" },
    h("label", { class: "reset-label", for: inputId }, `Reset link for ${user.email}`),
    h("div", { class: "reset-row" },
      input,
      h("button", {
        type: "button", class: "btn", "aria-label": `Copy the reset link for ${user.email}`,
        "data-testid": "reset-copy",
        onclick: async () => {
          if (await copyText(input)) toast("Link copied.", "ok", 3000);
          else toast("Could not copy: the link is selected, copy it by hand.", "error");
        },
      }, h("span", { icon: "copy" }), "Copy")),
    h("p", { class: "hint", id: hintId, "data-testid": "reset-expiry" },
      `Valid until ${until}, for one use. There is no mailer: give it to ${user.display_name || "them"} yourself, over a channel you trust.`));
}

function accountRow(user) {
  const item = h("li", { class: "token-item account-item", "data-testid": "account-item", "data-user-id": user.id });
  const button = h("button", {
    type: "button", class: "btn", "aria-label": `Reset link for ${user.email}`, "data-testid": "reset-link",
    onclick: async () => {
      let link;
      try {
        link = await busy(button, () => post(`/admin/users/${user.id}/reset-link`));
      } catch (err) {
        if (!deniedBy(err)) showError(err);
        return;
      }
      item.querySelector(".reset-reveal")?.remove();
      const reveal = resetReveal(user, link);
      item.append(reveal);
      reveal.querySelector("input").focus();
    },
  }, "Reset link");
  item.append(
    h("span", { class: "token-body" },
      h("span", { class: "token-name account-name" },
        h("span", { "data-testid": "account-email" }, user.email),
        user.is_admin ? h("span", { class: "badge badge-current", "data-testid": "account-admin" }, "Admin") : null),
      h("span", { class: "muted token-meta" },
        user.display_name ? [user.display_name, " · "] : null,
        "Joined ", timeEl(zoned(user.created_at)))),
    sparksButton(user, item, deniedBy),
    button);
  return item;
}

async function loadAccounts() {
  const users = await get("/admin/users");
  accountList.replaceChildren(...users.map(accountRow));
  const accountsLoading = document.getElementById("accounts-loading");
  accountsLoading.hidden = users.length > 0;
  accountsLoading.textContent = "No accounts.";
  return users;
}

// ---------- moderation log ----------

function who(entry, emails) {
  if (entry.user_id === null || entry.user_id === undefined) return h("span", { class: "muted" }, "deleted account");
  return emails.get(entry.user_id) || `#${entry.user_id}`;
}

function where(entry) {
  const source = SOURCES[entry.source] || entry.source;
  return entry.conversation_id ? `${source} · conversation ${entry.conversation_id}` : source;
}

function cell(label, className, ...children) {
  return h("td", { role: "cell", class: className, "data-label": label }, ...children);
}

function moderationRow(entry, emails) {
  const iso = zoned(entry.created_at);
  const date = new Date(iso);
  return h("tr", { role: "row", "data-testid": "moderation-row", "data-entry-id": entry.id },
    cell("When", "cell-nowrap", h("time", { datetime: iso }, Number.isNaN(date.getTime()) ? iso : when.format(date))),
    cell("Account", "cell-account", who(entry, emails)),
    cell("Where", null, where(entry)),
    cell("Limit", "cell-nowrap", h("span", { "data-testid": "moderation-limit" }, LIMITS[entry.limit] || entry.limit)),
    cell("Outcome", "cell-nowrap", h("span", { class: "badge badge-error", "data-testid": "moderation-action" },
      ACTIONS[entry.action] || entry.action)),
    cell("Rule hits", null, entry.signals.length
      ? h("ul", { class: "tags signal-list", "aria-label": "Rule hits" },
        entry.signals.map((s) => h("li", { class: "tag signal", "data-testid": "moderation-signal" }, s)))
      : h("span", { class: "muted" }, "none")));
}

async function loadModeration(users) {
  const moderationLoading = document.getElementById("moderation-loading");
  let entries;
  try {
    entries = await get("/admin/moderation?limit=100");
  } catch (err) {
    moderationLoading.textContent = "Could not load the moderation log.";
    throw err;
  }
  const emails = new Map(users.map((u) => [u.id, u.email]));
  moderationRows.replaceChildren(...entries.map((e) => moderationRow(e, emails)));
  moderationLoading.hidden = true;
  moderationTable.hidden = entries.length === 0;
  document.getElementById("moderation-empty").hidden = entries.length > 0;
}

let knownUsers = [];

document.getElementById("moderation-refresh").addEventListener("click", async (event) => {
  try {
    await busy(event.currentTarget, async () => {
      knownUsers = await loadAccounts();
      await loadModeration(knownUsers);
    });
  } catch (err) {
    if (!deniedBy(err)) showError(err);
  }
});

(async () => {
  const me = await requireUser();
  if (!me.is_admin) {
    showDenied();
    return;
  }
  loading.hidden = true;
  body.hidden = false;
  try {
    knownUsers = await loadAccounts();
  } catch (err) {
    if (deniedBy(err)) return;
    document.getElementById("accounts-loading").textContent = "Could not load the accounts.";
    showError(err);
  }
  try {
    await loadModeration(knownUsers);
  } catch (err) {
    if (!deniedBy(err)) showError(err);
  }
})().catch(showError);
