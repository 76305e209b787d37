// The Studio's live prompt preview: the assembled first-turn prompt with token counts.
import { post } from "./api.js";
import { debounce, h } from "./ui.js";

const ROLES = { system: "System", user: "User", assistant: "Character" };
const fmt = new Intl.NumberFormat();

function roleLabel(m, i, all) {
  if (m.role === "assistant" && i === all.findIndex((x) => x.role === "assistant")) return "Character · greeting";
  if (m.role === "user" && i === all.length - 1) return "User · sample message";
  return ROLES[m.role] || m.role;
}

/** Wire the preview panel; `draft()` returns the fields to preview. Returns {schedule, refresh}. */
export function promptPreview({ draft }) {
  const body = document.getElementById("preview-body");
  const total = document.getElementById("preview-total");
  const summary = document.getElementById("preview-summary");
  const reply = document.getElementById("preview-reply");
  const used = document.getElementById("meter-used");
  const reserved = document.getElementById("meter-reply");
  const error = document.getElementById("preview-error");
  const warnings = document.getElementById("preview-warnings");
  const messages = document.getElementById("preview-messages");
  const side = document.getElementById("studio-side");
  const toggle = document.getElementById("preview-toggle");
  let pending = null;

  toggle.addEventListener("click", () => {
    const open = side.classList.toggle("is-collapsed") === false;
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = open ? "Hide" : "Show";
  });

  function render(p) {
    const share = (n) => `${Math.min(100, (100 * n) / Math.max(1, p.context_size)).toFixed(1)}%`;
    total.textContent = `${fmt.format(p.total_tokens)} / ${fmt.format(p.context_size)} tokens`;
    summary.textContent = `${fmt.format(p.total_tokens)} tokens`;
    reply.textContent = `${fmt.format(p.reply_tokens)} kept free for the reply`
      + (p.examples_included ? ` · ${p.examples_included} example block${p.examples_included === 1 ? "" : "s"} included` : "");
    used.style.width = share(p.total_tokens);
    reserved.style.width = share(p.reply_tokens);
    body.classList.toggle("is-over", p.total_tokens + p.reply_tokens > p.context_size);
    warnings.replaceChildren(...p.warnings.map((w) => h("li", { class: "preview-warning", "data-testid": "preview-warning" }, w)));
    messages.replaceChildren(...p.messages.map((m, i, all) =>
      h("li", { class: `pv-msg pv-${m.role}`, "data-role": m.role, "data-testid": "preview-message" },
        h("div", { class: "pv-head" },
          h("span", { class: "pv-role" }, roleLabel(m, i, all)),
          h("span", { class: "pv-tokens", "data-testid": "preview-tokens" }, `${fmt.format(m.tokens)} tokens`)),
        h("div", { class: "pv-text" }, m.content))));
  }

  async function refresh() {
    pending?.abort();
    const mine = new AbortController();
    pending = mine;
    body.setAttribute("aria-busy", "true");
    try {
      const result = await post("/characters/preview", draft(), { signal: mine.signal });
      error.hidden = true;
      render(result);
    } catch (err) {
      if (err && err.name === "AbortError") return;
      error.textContent = `The preview is not up to date: ${err.message || err}`;
      error.hidden = false;
    } finally {
      if (pending === mine) body.setAttribute("aria-busy", "false");
    }
  }

  return { schedule: debounce(refresh, 400), refresh };
}
