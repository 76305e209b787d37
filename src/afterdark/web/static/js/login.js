import { post } from "./api.js";
import { nextUrl, skipIfSignedIn } from "./auth.js";
import { busy, formError } from "./ui.js";

const form = document.getElementById("login-form");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  formError(form, "");
  const data = new FormData(form);
  const email = String(data.get("email") || "").trim();
  const password = String(data.get("password") || "");
  if (!email || !password) {
    formError(form, "Enter your email and password.");
    return;
  }
  try {
    await busy(form.querySelector('[type="submit"]'), () =>
      post("/auth/login", { email, password }, { auth: false }));
    window.location.assign(nextUrl());
  } catch (err) {
    formError(form, err.message);
  }
});

skipIfSignedIn();
