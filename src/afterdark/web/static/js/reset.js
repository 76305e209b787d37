import { post, url } from "./api.js";
import { busy, formError } from "./ui.js";

const form = document.getElementById("reset-form");
// The token travels in the fragment, which the browser never sends to the server.
const token = new URLSearchParams(window.location.hash.slice(1)).get("token") || "";

if (!token) {
  form.hidden = true;
  document.getElementById("reset-missing").hidden = false;
} else {
  // Keep the secret out of history and of anything that reads the address later.
  history.replaceState(null, "", window.location.pathname);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  formError(form, "");
  const data = new FormData(form);
  const password = String(data.get("password") || "");
  if (password.length < 8) {
    formError(form, "Use at least 8 characters.");
    return;
  }
  if (password !== String(data.get("repeat") || "")) {
    formError(form, "The two passwords differ.");
    return;
  }
  try {
    await busy(form.querySelector('[type="submit"]'), () =>
      post("/auth/reset", { token, password }, { auth: false }));
    window.location.assign(url("/characters"));
  } catch (err) {
    formError(form, err.message);
  }
});
