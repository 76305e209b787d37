// The Sparks link in the top bar, with the balance, for signed-in users where Sparks are on.
import { get, readCookie } from "./api.js";

const count = new Intl.NumberFormat();

/** Show the nav link with `statement`'s balance (hidden where Sparks are off). */
export function showBalance(statement) {
  const link = document.getElementById("nav-sparks");
  const label = document.getElementById("nav-sparks-balance");
  if (!link || !label) return;
  link.hidden = !statement.enabled;
  label.textContent = count.format(statement.available);
  link.setAttribute("aria-label", `Sparks: ${count.format(statement.available)} available`);
}

// Only with a login (its CSRF cookie): a visitor reading the price list asks nothing.
// The Sparks page shows the balance itself.
if (readCookie("afterdark_csrf") && !document.body.classList.contains("page-sparks")) {
  get("/me/sparks", { auth: false }).then(showBalance).catch(() => {});
}
