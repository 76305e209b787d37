// The Sparks page: the balance, today's allowance, the plan (cancel in one click, the billing
// portal), every line of the statement, and what happened on the way back from Checkout.
import { get, post, requireUser } from "./api.js";
import { showBalance } from "./navsparks.js";
import { busy, h, showError } from "./ui.js";

const PAGE = 50;
const count = new Intl.NumberFormat();
const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const day = new Intl.DateTimeFormat(undefined, { dateStyle: "long" });
const CHECKOUT = {
  done: "Thank you \u2014 your Sparks arrive as soon as Stripe confirms the payment.",
  success: "Thank you \u2014 your Sparks arrive as soon as Stripe confirms the payment.",
  cancelled: "Checkout was cancelled: nothing was charged.",
  cancel: "Checkout was cancelled: nothing was charged.",
};
const STATUS = {
  posted: "Done",
  charged: "Charged",
  held: "Set aside",
  released: "Cost nothing",
  expired: "Cost nothing",
};

const rows = document.getElementById("history-rows");
const more = document.getElementById("history-more");
const seen = new Set();
let offset = 0;

/** An ISO time with its zone: a stored time without one is the UTC it was saved in. */
function zoned(iso) {
  const text = String(iso || "");
  return /(?:Z|[+-]\d\d:?\d\d)$/i.test(text) || !text ? text : `${text}Z`;
}

function amount(line) {
  if (line.status === "held") return h("span", { class: "muted" }, `${count.format(line.held)} set aside`);
  if (line.sparks === 0) return h("span", { class: "muted" }, "0");
  const sign = line.sparks > 0 ? "+" : "\u2212";
  const kind = line.sparks > 0 ? "amount-in" : "amount-out";
  return h("span", { class: kind }, `${sign}${count.format(Math.abs(line.sparks))}`);
}

function row(line) {
  const iso = zoned(line.at);
  const date = new Date(iso);
  return h("tr", { "data-testid": "history-row", "data-status": line.status, "data-kind": line.kind },
    h("td", { "data-label": "When", class: "cell-nowrap" },
      h("time", { datetime: iso }, Number.isNaN(date.getTime()) ? iso : when.format(date))),
    h("td", { "data-label": "What for" }, h("div", {},
      h("span", { "data-testid": "history-what" }, line.what),
      line.note ? h("span", { class: "muted history-note" }, line.note) : null)),
    h("td", { "data-label": "Sparks", class: "cell-amount", "data-testid": "history-amount" }, amount(line)),
    h("td", { "data-label": "Status", "data-testid": "history-status" }, STATUS[line.status] || line.status));
}

function renderStatement(s) {
  showBalance(s);
  document.getElementById("sparks-loading").hidden = true;
  document.getElementById("sparks-off").hidden = s.enabled;
  document.getElementById("sparks-balance").hidden = false;
  const set = (id, n) => { document.querySelector(`[data-testid="${id}"]`).textContent = count.format(n); };
  set("sparks-available", s.available);
  set("sparks-free", s.free);
  set("sparks-wallet", s.wallet);
  set("sparks-held", s.held);
  document.getElementById("sparks-allowance").textContent = s.daily_allowance > 0
    ? `Each day you get ${count.format(s.daily_allowance)} free Sparks, the first time you come by; free Sparks never pile up past ${count.format(s.daily_cap)}.`
    : "There is no free daily allowance on this instance.";
}

/** The end of the paid month in words, or null when Stripe has not said. */
function periodEnd(plan) {
  if (!plan.current_period_end) return null;
  const date = new Date(zoned(plan.current_period_end));
  return Number.isNaN(date.getTime()) ? null : day.format(date);
}

function planText(plan) {
  const end = periodEnd(plan);
  if (plan.status === null) return `${plan.name}: waiting for Stripe to confirm the payment.`;
  if (!plan.active) return `${plan.name}: not on (Stripe says \u201c${plan.status}\u201d).`;
  if (plan.cancel_at_period_end) {
    return end
      ? `${plan.name}: cancelled. It stays on until ${end} and will not renew.`
      : `${plan.name}: cancelled. It stays on until the end of the month you paid for and will not renew.`;
  }
  const retry = plan.status === "past_due" ? " Stripe is retrying the last payment." : "";
  return `${plan.name}: on${end ? `, renews on ${end}` : ""}.${retry}`;
}

function renderPlan(s) {
  const plan = s.plan;
  document.getElementById("sparks-plan").hidden = !s.billing && !plan;
  document.getElementById("plan-line").textContent = plan
    ? planText(plan)
    : "You have no plan. Packs and plans are on the prices page.";
  const unlocks = document.getElementById("plan-unlocks");
  unlocks.replaceChildren(...(plan ? plan.unlocks : []).map((u) => h("li", {}, u.what)));
  unlocks.hidden = unlocks.childElementCount === 0;
  const cancel = document.getElementById("plan-cancel");
  cancel.hidden = !(s.billing && plan && plan.active && !plan.cancel_at_period_end);
  cancel.onclick = () => busy(cancel, async () => {
    await post("/me/sparks/plan/cancel");
    cancel.hidden = true;
    const end = periodEnd(plan);
    const note = document.getElementById("plan-cancelled");
    note.textContent = `Your plan is cancelled. It stays on until ${end || "the end of the month you paid for"} and will not renew; nothing more will be charged.`;
    note.hidden = false;
  }).catch(showError);
  const manage = document.getElementById("billing-manage");
  manage.hidden = !s.billing;
  document.getElementById("billing-hint").hidden = !s.billing;
  manage.onclick = () => busy(manage, async () => {
    const { url } = await post("/me/sparks/portal");
    window.location.assign(url);
  }).catch(showError);
}

function showCheckoutNote() {
  const outcome = new URLSearchParams(window.location.search).get("checkout");
  const text = outcome ? CHECKOUT[outcome] : null;
  const note = document.getElementById("checkout-note");
  note.textContent = text || "";
  note.hidden = !text;
}

async function loadLines() {
  // One more than a page, to know whether there is a next one.
  const lines = await get(`/me/sparks/transactions?limit=${PAGE + 1}&offset=${offset}`);
  const page = lines.slice(0, PAGE);
  offset += page.length;
  const fresh = page.filter((line) => !seen.has(line.op));
  for (const line of fresh) seen.add(line.op);
  rows.append(...fresh.map(row));
  more.hidden = lines.length <= PAGE;
  document.getElementById("history-table").hidden = seen.size === 0;
  document.getElementById("history-empty").hidden = seen.size > 0;
  document.getElementById("sparks-history").hidden = false;
}

more.addEventListener("click", () => busy(more, loadLines).catch(showError));

(async () => {
  await requireUser();
  showCheckoutNote();
  try {
    const statement = await get("/me/sparks");
    renderStatement(statement);
    renderPlan(statement);
  } catch (err) {
    document.getElementById("sparks-loading").textContent = "Could not load your Sparks.";
    throw err;
  }
  await loadLines();
})().catch(showError);
