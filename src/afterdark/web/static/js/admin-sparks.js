// An account's Sparks on the admin page: the balance, and a grant or take-back with a reason
// (the user reads it on their statement).
import { get, post } from "./api.js";
import { busy, formError, h, showError, toast } from "./ui.js";

const count = new Intl.NumberFormat();

function summary(s) {
  return `${count.format(s.available)} available (${count.format(s.free)} free, `
    + `${count.format(s.wallet)} other), ${count.format(s.held)} set aside`;
}

function adjustForm(user, shown) {
  const id = (name) => `sparks-${name}-${user.id}`;
  const form = h("form", { class: "admin-sparks-form", novalidate: true, "data-testid": "admin-sparks-form" },
    h("label", { class: "field", for: id("action") }, h("span", {}, "Change"),
      h("select", { id: id("action"), name: "action", "data-testid": "admin-sparks-action" },
        h("option", { value: "grant" }, "Grant"),
        h("option", { value: "revoke" }, "Take back"))),
    h("label", { class: "field", for: id("amount") }, h("span", {}, "Sparks"),
      h("input", {
        id: id("amount"), type: "number", name: "amount", min: 1, step: 1, required: true,
        inputmode: "numeric", "data-testid": "admin-sparks-amount",
      })),
    h("label", { class: "field admin-sparks-reason", for: id("reason") }, h("span", {}, "Reason, shown to them"),
      h("input", {
        id: id("reason"), type: "text", name: "reason", maxlength: 300, required: true,
        autocomplete: "off", "data-testid": "admin-sparks-reason",
      })),
    h("button", { type: "submit", class: "btn btn-primary", "data-testid": "admin-sparks-submit" }, "Apply"),
    h("p", { class: "form-error", role: "alert", hidden: true, "data-testid": "admin-sparks-error" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError(form, "");
    const body = {
      action: form.elements.namedItem("action").value,
      amount: Number.parseInt(form.elements.namedItem("amount").value, 10),
      reason: form.elements.namedItem("reason").value,
    };
    try {
      const statement = await busy(event.submitter || form.querySelector("button"),
        () => post(`/admin/users/${user.id}/sparks`, body));
      shown.textContent = summary(statement);
      form.elements.namedItem("amount").value = "";
      form.elements.namedItem("reason").value = "";
      toast(`Sparks of ${user.email} updated.`, "ok", 3000);
    } catch (err) {
      formError(form, err.message);
    }
  });
  return form;
}

function panel(user, account) {
  const shown = h("p", { class: "admin-sparks-summary", "data-testid": "admin-sparks-summary" }, summary(account.statement));
  return h("div", { class: "admin-sparks", role: "group", "aria-label": `Sparks of ${user.email}`, "data-testid": "admin-sparks" },
    shown, adjustForm(user, shown));
}

/** A button that opens (and closes) the account's Sparks inside `item`. */
export function sparksButton(user, item, deniedBy) {
  const button = h("button", {
    type: "button", class: "btn", "aria-expanded": "false", "aria-label": `Sparks of ${user.email}`,
    "data-testid": "admin-sparks-open",
    onclick: async () => {
      const open = item.querySelector(".admin-sparks");
      if (open) {
        open.remove();
        button.setAttribute("aria-expanded", "false");
        return;
      }
      let account;
      try {
        account = await busy(button, () => get(`/admin/users/${user.id}/sparks?limit=1`));
      } catch (err) {
        if (!deniedBy(err)) showError(err);
        return;
      }
      const shown = panel(user, account);
      item.append(shown);
      button.setAttribute("aria-expanded", "true");
      shown.querySelector("select").focus();
    },
  }, "Sparks");
  return button;
}
