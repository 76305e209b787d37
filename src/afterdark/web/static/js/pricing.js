// The price list: the free allowance first, what each action costs in Sparks, what Sparks
// cost, and (once Stripe is set up) the packs and plans on sale, each with its own button:
// nothing is chosen for the user and nothing counts down.
import { get, post, readCookie } from "./api.js";
import { busy, h, showError } from "./ui.js";

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

/** Off to Stripe's Checkout page for one pack or plan. */
async function checkout(button, item) {
  await busy(button, async () => {
    const { url } = await post("/me/sparks/checkout", item);
    window.location.assign(url);
  });
}

function buyButton(label, testid, item, name) {
  const button = h("button", {
    type: "button",
    class: "btn btn-small",
    "data-testid": testid,
    "aria-label": `${label}: ${name}`,
  }, label);
  button.addEventListener("click", () => checkout(button, item).catch(showError));
  return button;
}

/** What 100 of its Sparks cost (the table's heading says "per 100 Sparks"). */
function perHundred(item) {
  return item.price_unit_money || "\u2014";
}

function renderPacks(p, loggedIn) {
  document.getElementById("pack-rows").replaceChildren(...p.packs.map((pack) =>
    h("tr", { "data-testid": "pack-row", "data-pack": pack.key },
      cell("Pack", h("strong", {}, pack.name)),
      cell("Sparks", count.format(pack.sparks)),
      cell("Price", h("span", { "data-testid": "pack-price" }, pack.price_money)),
      cell("Per 100 Sparks", h("span", { "data-testid": "pack-unit" }, perHundred(pack))),
      cell("", loggedIn ? buyButton("Buy", "buy-pack", { pack: pack.key }, pack.name) : null))));
  document.getElementById("packs-panel").hidden = p.packs.length === 0;
}

function renderPlans(p, loggedIn, mine) {
  document.getElementById("plan-rows").replaceChildren(...p.plans.map((plan) => {
    const current = mine && mine.key === plan.key && mine.active;
    const action = current
      ? h("span", { class: "muted", "data-testid": "plan-current" }, "Your plan")
      : loggedIn ? buyButton("Subscribe", "subscribe-plan", { plan: plan.key }, plan.name) : null;
    const unlocks = plan.unlocks.length
      ? h("ul", { class: "plan-unlocks" }, ...plan.unlocks.map((u) => h("li", {}, u.what)))
      : "Nothing more";
    return h("tr", { "data-testid": "plan-row", "data-plan": plan.key },
      cell("Plan", h("strong", {}, plan.name)),
      cell("Sparks each month", count.format(plan.monthly_sparks)),
      cell("Price a month", h("span", { "data-testid": "plan-price" }, plan.price_money)),
      cell("Also unlocks", h("div", { "data-testid": "plan-unlocks" }, unlocks)),
      cell("", action));
  }));
  document.getElementById("plans-panel").hidden = p.plans.length === 0;
}

async function renderShop(p) {
  if (!p.payments) return;
  let loggedIn = Boolean(readCookie("afterdark_csrf"));
  let mine = null;
  if (loggedIn) {
    try {
      mine = (await get("/me/sparks", { auth: false })).plan;
    } catch {
      loggedIn = false; // a login that has ended: the prices, and a way to log in
    }
  }
  renderPacks(p, loggedIn);
  renderPlans(p, loggedIn, mine);
  document.getElementById("buy-login").hidden = loggedIn || p.packs.length + p.plans.length === 0;
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
  renderShop(p).catch(showError);
}

get("/pricing", { auth: false }).then(render).catch((err) => {
  document.getElementById("pricing-loading").textContent = "Could not load the price list.";
  showError(err);
});
