// The price list: what each action costs in Sparks, what Sparks cost, the free allowance.
import { get, readCookie } from "./api.js";
import { h, showError } from "./ui.js";

const count = new Intl.NumberFormat();
const sparks = (n) => `${count.format(n)} Spark${n === 1 ? "" : "s"}`;

function cell(label, ...children) {
  return h("td", { "data-label": label }, ...children);
}

function freeText(p) {
  if (p.daily_allowance <= 0) return ["There is no free daily allowance on this instance."];
  return [
    `You get ${sparks(p.daily_allowance)} free each day, the first time you use Afterdark that day (by your own time zone).`,
    `Free Sparks do not pile up: the daily top-up never takes them past ${sparks(p.daily_cap)}.`,
  ];
}

function moneyText(p) {
  if (p.spark_price_cents <= 0) return "Sparks have no price in money here.";
  const each = Number(p.spark_price_cents.toFixed(4));
  return `${sparks(p.price_unit)} cost ${p.price_unit_money} (${each} ${each === 1 ? "cent" : "cents"} of ${p.currency} each).`;
}

function render(p) {
  document.getElementById("pricing-loading").hidden = true;
  if (!p.enabled) {
    document.getElementById("pricing-off").hidden = false;
    return;
  }
  const [free, cap] = freeText(p);
  document.getElementById("pricing-free").textContent = free;
  document.getElementById("pricing-cap").textContent = cap || "";
  document.getElementById("price-rows").replaceChildren(...p.lines.map((line) =>
    h("tr", { "data-testid": "price-row", "data-action": line.action },
      cell("What", line.what),
      cell("Sparks", h("strong", {}, line.sparks)),
      cell("For example", line.example))));
  document.getElementById("pricing-money").textContent = moneyText(p);
  document.getElementById("payments-note").textContent = p.payments_note;
  document.getElementById("pricing-body").hidden = false;
  document.getElementById("pricing-mine").hidden = !readCookie("afterdark_csrf");
}

get("/pricing", { auth: false }).then(render).catch((err) => {
  document.getElementById("pricing-loading").textContent = "Could not load the price list.";
  showError(err);
});
