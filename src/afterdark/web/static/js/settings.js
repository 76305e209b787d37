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
  await Promise.all([loadPersona().catch(showError), loadTokens().catch(showError)]);
})();
